"""floorpulse benchmarks: ``python -m bench [--events N] [--runs R]`` (or ``make bench``).

Prints a table and writes ``bench/results.json``. Figures are medians of R runs.

- engine: the pure live-figure engine (decode + apply), in process, events/s;
- worker: N simulated events pre-filled in the input topic (500 events per Kafka message,
  as the producers batch them), a fresh worker from offset 0 on the embedded broker;
  events/s from the worker's first published figure until every event is reflected in the
  live state published to Redis, and the same including start-up (group join, recovery).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import redis

from producers.simulator import default_config, simulate
from stream.embedded import start_kafka, start_redis
from stream.events import decode_message
from stream.kafka import EventSender, ensure_topics
from stream.progress import progress_totals
from stream.report import new_partition_state
from stream.settings import Settings

HERE = Path(__file__).parent


def simulated_events(count: int) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    day = 0
    while len(events) < count:
        start = datetime(2026, 11, 23, 8, tzinfo=UTC).replace(day=23 + day)
        config = default_config(hours=12, seed=100 + day, agents=200, start=start)
        events.extend(simulate(config))
        day += 1
    return events[:count]


def bench_engine(events: list[dict[str, object]]) -> float:
    values = [orjson.dumps(events[i:i + 500]) for i in range(0, len(events), 500)]
    live = new_partition_state(Settings())
    started = time.perf_counter()
    for value in values:
        decoded, _ = decode_message(value)
        for event in decoded:
            live.apply(event)
    return len(events) / (time.perf_counter() - started)


def bench_worker(events: list[dict[str, object]], run: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        kafka = start_kafka(workdir=Path(tmp))
        store = start_redis(workdir=Path(tmp))
        try:
            settings = Settings(
                kafka_bootstrap=f"{kafka.host}:{kafka.port}",
                redis_url=f"redis://{store.host}:{store.port}/0",
                data_dir=str(Path(tmp) / "data"), app_id=f"bench-{run}",
            )
            ensure_topics(settings)
            sender = EventSender(settings)
            sender.send_all(events)
            sender.close()
            client = redis.Redis.from_url(settings.redis_url or "")
            started = time.monotonic()
            worker = subprocess.Popen(
                [sys.executable, "-m", "stream.cli", "worker"],
                env={**os.environ, **settings.to_env()},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            first: float | None = None
            try:
                while True:
                    fields = client.hgetall(settings.progress_key).values()
                    processed = progress_totals(fields)["processed"]
                    if processed and first is None:
                        first = time.monotonic()
                        first_count = processed
                    if processed >= len(events):
                        break
                    if time.monotonic() - started > 600:
                        raise TimeoutError("worker did not finish within 600 s")
                    time.sleep(0.02)
                done = time.monotonic()
            finally:
                worker.terminate()
                worker.wait(30)
                client.close()
            assert first is not None
            steady = (len(events) - first_count) / max(1e-9, done - first)
            return {"worker_events_per_s": steady,
                    "worker_events_per_s_with_startup": len(events) / (done - started),
                    "worker_startup_s": first - started}
        finally:
            store.stop()
            kafka.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    events = simulated_events(args.events)
    engine = [bench_engine(events) for _ in range(args.runs)]
    workers = [bench_worker(events, run) for run in range(args.runs)]
    results: dict[str, Any] = {
        "events": len(events),
        "runs": args.runs,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "engine_events_per_s": statistics.median(engine),
    }
    for key in workers[0]:
        results[key] = statistics.median(w[key] for w in workers)
        results[key + "_range"] = [min(w[key] for w in workers), max(w[key] for w in workers)]
    print(f"{'benchmark':<42}{'median':>14}{'min - max':>24}")
    print(f"{'engine (decode + apply), events/s':<42}{results['engine_events_per_s']:>14,.0f}"
          f"{min(engine):>12,.0f} - {max(engine):,.0f}")
    labels = {"worker_events_per_s": "worker, steady, events/s",
              "worker_events_per_s_with_startup": "worker incl. start-up, events/s",
              "worker_startup_s": "worker start to first figure, s"}
    for key, label in labels.items():
        low, high = results[key + "_range"]
        print(f"{label:<42}{results[key]:>14,.1f}{low:>12,.1f} - {high:,.1f}")
    (HERE / "results.json").write_text(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
