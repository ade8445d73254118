"""Workforce management on the live pipeline: the recorded morning (tests/data/wfm_day.jsonl)
through the embedded broker, a real worker and Redis; the adherence and intraday sections
equal the batch computation, survive a restart exactly, and a forecast published with
`floorpulse forecast` reaches them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from producers.replay import replay
from stream.report import read_events, report_snapshot
from stream.settings import QueueSettings
from tests.conftest import redis_client, wait_until

pytestmark = pytest.mark.integration

DAY_FILE = Path(__file__).parent.parent / "data" / "wfm_day.jsonl"
NINE_THIRTY = 1795426200.0  # 2026-11-23T09:30:00Z


def wfm_part(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {"adherence": snapshot["adherence"], "intraday": snapshot["intraday"],
            "teams": {t: e.get("adherence") for t, e in snapshot["teams"].items()},
            "thresholds": snapshot["adherence_thresholds"]}


def read_snapshot(settings: Any) -> dict[str, Any] | None:
    raw = redis_client(settings).get(settings.snapshot_key("default"))
    return None if raw is None else orjson.loads(raw)  # type: ignore[no-any-return]


def test_live_adherence_and_intraday_equal_the_batch_and_survive_a_restart(
        make_settings: Any, start_worker: Any, tmp_path: Path) -> None:
    settings = make_settings(queues={"billing": QueueSettings(sl_threshold_s=20,
                                                              sl_target=0.8)})
    expected = wfm_part(report_snapshot(read_events(DAY_FILE), settings))
    assert expected["adherence"] and expected["intraday"]["billing"]["rows"]
    worker = start_worker(settings)
    replay(DAY_FILE, settings, speed=None, wait=True, wait_timeout_s=120, progress=None)
    live = read_snapshot(settings)
    assert live is not None
    assert wfm_part(live) == expected

    # A restart rebuilds schedules and forecasts from the changelog: the same figures.
    worker.stop()
    redis_client(settings).delete(settings.snapshot_key("default"))
    start_worker(settings)
    wait_until(lambda: read_snapshot(settings) is not None, timeout=60)
    restored = read_snapshot(settings)
    assert restored is not None and wfm_part(restored) == expected

    # `floorpulse forecast FILE` publishes a re-forecast of 09:30 that the page then shows.
    source = tmp_path / "reforecast.csv"
    source.write_text("queue,interval_start,volume,aht_s\n"
                      "billing,2026-11-23T09:30:00Z,40,180\n")
    env = {**os.environ, **settings.to_env()}
    subprocess.run([sys.executable, "-m", "stream.cli", "forecast", str(source),
                    "--published", "2026-11-23T09:22:30+00:00"], env=env, check=True,
                   capture_output=True, timeout=120)

    def reforecast_shown() -> bool:
        snap = read_snapshot(settings)
        rows = snap["intraday"]["billing"]["rows"] if snap else []
        return any(r["start_epoch"] == NINE_THIRTY and r["forecast_volume"] == 40.0
                   for r in rows)

    wait_until(reforecast_shown, timeout=60)
