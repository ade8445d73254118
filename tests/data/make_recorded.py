"""Regenerate the recorded streams in this folder (deterministic):

    python tests/data/make_recorded.py

``day_small.jsonl``: two simulated hours of a 16-agent center, with 5 % of events moved
up to 90 s out of order and 1 % sent twice, as real feeds do.
``bad_lines.jsonl``: the same start, with malformed lines between good events.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson

from producers.simulator import default_config, simulate
from tests.streams import disorder

HERE = Path(__file__).parent
START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def main() -> None:
    events = list(simulate(default_config(hours=2, seed=11, start=START, agents=16)))
    lines = [orjson.dumps(e) for e in disorder(events, seed=5)]
    (HERE / "day_small.jsonl").write_bytes(b"\n".join(lines) + b"\n")

    good = [orjson.dumps(e) for e in events[:400]]
    bad = [
        b"this is not json",
        b'{"type": "contact.teleported", "event_id": "x1", "ts": "2026-11-23T08:10:00Z"}',
        b'{"type": "contact.queued", "event_id": "x2", "ts": "2026-11-23T08:10:00Z",'
        b' "contact_id": "bad-1", "channel": "voice"}',
        b'{"type": "contact.queued", "event_id": "x3", "ts": "yesterday at noon",'
        b' "contact_id": "bad-2", "queue": "billing"}',
        b'{"type": "contact.queued", "event_id": "x4", "ts": "2026-11-23T08:10:00",'
        b' "contact_id": "bad-3", "queue": "billing"}',
        b'{"type": "agent.state", "event_id": "x5", "ts": "2026-11-23T08:10:00Z",'
        b' "agent_id": "a-x", "state": "sleeping"}',
        b"[1, 2, 3]",
        b'{"unterminated": ',
    ]
    mixed: list[bytes] = []
    for i, line in enumerate(good):
        mixed.append(line)
        if i % 50 == 25:
            mixed.append(bad[(i // 50) % len(bad)])
    (HERE / "bad_lines.jsonl").write_bytes(b"\n".join(mixed) + b"\n")


if __name__ == "__main__":
    main()
