import os

from stream.compiled import check_fresh

if not os.environ.get("FLOORPULSE_SKIP_FRESH_CHECK"):
    check_fresh()
