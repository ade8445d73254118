"""floorpulse benchmarks: ``python -m bench [--events N] [--runs R] [--only PARTS] [--no-text]``
(or ``make bench``). Prints a table and writes ``bench/results.json``.

Parts (issue 4; every figure a median of R runs measured side by side in one run):

- ``engine``: the pure figure engine (decode + apply), in process, events/s;
- ``throughput``: N events pre-filled once batched (500 a message) and once one per
  message; floorpulse's worker on both, the naive Faust app (Record per event, one table
  write per event) and a raw aiokafka consumer on the same topics (bench/throughput.py);
- ``workers``: the batched topic read by one worker, then (fresh topic, same events) by
  two workers sharing its partitions; events/s of each, and whether the two workers'
  intervals equal the batch report's (the number of rows that differ);
- ``memory``: worker RSS over a simulated week of a 1,000-agent center (bench/memory.py);
- ``replay``: ``floorpulse replay FILE --speed max --wait`` of 1M events of a 1,000-agent
  center, seconds;
- ``latency`` and ``fanout``: bench/latency.py and bench/fanout.py, when present.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench import memory, throughput
from bench.servers import simulated_events
from stream.events import decode_message
from stream.report import new_partition_state
from stream.settings import Settings

HERE = Path(__file__).parent
PARTS = ("engine", "throughput", "workers", "memory", "replay")


def bench_engine(events: list[dict[str, object]]) -> float:
    values = [orjson.dumps(events[i:i + 500]) for i in range(0, len(events), 500)]
    live = new_partition_state(Settings())
    started = time.perf_counter()
    for value in values:
        decoded, _ = decode_message(value)
        for event in decoded:
            live.apply(event)
    return len(events) / (time.perf_counter() - started)


def bench_throughput(events: list[dict[str, object]], run: int,
                     naive_events: int) -> dict[str, float]:
    """One run of every reader, side by side, on fresh topics."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        servers = throughput.start_servers(workdir)
        try:
            out: dict[str, float] = {}
            batched = servers.settings(f"b{run}", workdir)
            single = servers.settings(f"s{run}", workdir)
            naive = servers.settings(f"n{run}", workdir)
            throughput.fill(batched, events, per_message=500)
            throughput.fill(single, events, per_message=1)
            throughput.fill(naive, events[:naive_events], per_message=1)
            for name, settings, runner, total in (
                ("raw_batched", batched, throughput.raw_consumer, len(events)),
                ("raw_single", single, throughput.raw_consumer, len(events)),
                ("floorpulse_batched", batched, throughput.floorpulse_worker, len(events)),
                ("floorpulse_single", single, throughput.floorpulse_worker, len(events)),
                ("naive_single", naive, throughput.naive_worker, naive_events),
            ):
                for key, value in runner(settings, total).items():
                    out[f"{name}_{key}"] = value
            return out
        finally:
            servers.stop()


def bench_workers(events: list[dict[str, object]], run: int) -> dict[str, float]:
    """One worker, then two on a fresh topic with the same events, side by side."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        servers = throughput.start_servers(workdir)
        try:
            one = servers.settings(f"w1-{run}", workdir)
            two = servers.settings(f"w2-{run}", workdir)
            throughput.fill(one, events, per_message=500)
            throughput.fill(two, events, per_message=500)
            out = {f"one_{k}": v for k, v in
                   throughput.floorpulse_worker(one, len(events)).items()}
            out.update({f"two_{k}": v for k, v in
                        throughput.floorpulse_worker(two, len(events), workers=2).items()})
            out.update({f"two_{k}": v for k, v in throughput.exact(two, events).items()})
            return out
        finally:
            servers.stop()


def with_servers(job: Callable[[throughput.Servers, Path], dict[str, Any]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        servers = throughput.start_servers(Path(tmp))
        try:
            return job(servers, Path(tmp))
        finally:
            servers.stop()


def medians(runs: list[dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in runs[0]:
        values = [r[key] for r in runs]
        out[key] = statistics.median(values)
        out[key + "_range"] = [min(values), max(values)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--naive-events", type=int, default=20_000,
                        help="events for the naive Faust app (it reads ~2-3k events/s)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-text", action="store_true",
                        help="engine, throughput, workers and replay without transcripts and chat "
                             "messages: the contact and agent events of issues 1-3 (every "
                             "feature of the worker stays on)")
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated parts of: {', '.join(PARTS)}, latency, fanout")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    results: dict[str, Any] = {
        "events": args.events, "runs": args.runs, "text": not args.no_text,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    rows: list[tuple[str, str]] = []
    events = (simulated_events(args.events, text=not args.no_text)
              if parts & {"engine", "throughput", "workers"} else [])
    if "engine" in parts:
        engine = [bench_engine(events) for _ in range(args.runs)]
        results["engine_events_per_s"] = statistics.median(engine)
        rows.append(("engine (decode + apply), events/s", f"{statistics.median(engine):,.0f}"))
    if "throughput" in parts:
        t = medians([bench_throughput(events, run, args.naive_events)
                     for run in range(args.runs)])
        results["throughput"] = t
        fb = t["floorpulse_batched_events_per_s"]
        rows += [
            ("floorpulse worker, batched, events/s", f"{fb:,.0f}"),
            ("  incl. start-up, events/s",
             f"{t['floorpulse_batched_events_per_s_with_startup']:,.0f}"),
            ("  start to first figure, s", f"{t['floorpulse_batched_startup_s']:.1f}"),
            ("floorpulse worker, one event a message, events/s",
             f"{t['floorpulse_single_events_per_s']:,.0f}"),
            ("naive Faust app, one event a message, events/s",
             f"{t['naive_single_events_per_s']:,.0f}"),
            ("raw aiokafka consumer, batched, events/s", f"{t['raw_batched_events_per_s']:,.0f}"),
            ("raw aiokafka consumer, one a message, events/s",
             f"{t['raw_single_events_per_s']:,.0f}"),
            ("floorpulse batched / naive", f"{fb / t['naive_single_events_per_s']:.1f}x"),
            ("floorpulse batched / raw batched", f"{fb / t['raw_batched_events_per_s']:.2f}"),
        ]
    if "workers" in parts:
        w = results["workers"] = medians([bench_workers(events, run)
                                          for run in range(args.runs)])
        rows += [
            ("one worker, batched, events/s", f"{w['one_events_per_s']:,.0f}"),
            ("two workers, one topic, events/s", f"{w['two_events_per_s']:,.0f}"),
            ("  intervals differing from the batch report, worst run",  # exact in every run
             f"{w['two_intervals_differing_range'][1]:.0f} of {w['two_intervals']:.0f}"),
        ]
    if "memory" in parts:
        m = results["memory"] = with_servers(memory.week)
        rows += [
            (f"worker RSS, week of {m['agents']} agents ({m['events']:,} events), MB",
             f"{m['rss_mb_first_day']:.0f} -> {m['rss_mb_max_after']:.0f}"),
            ("  growth after the first day", f"{m['rss_growth_after_first_day']:+.1%}"),
            ("  RSS by day, MB", " ".join(f"{v:.0f}" for v in m["rss_mb_by_day"])),
            ("  partitions' stream-time spread by day, h",
             " ".join(f"{v:.1f}" for v in m["clock_spread_h_by_day"])),
        ]
    if "replay" in parts:
        r = results["replay"] = medians([
            with_servers(lambda s, w: memory.replay_file(s, w, text=not args.no_text))
            for _ in range(args.runs)])
        rows.append((f"replay --speed max --wait of {r['events']:,.0f} events, s",
                     f"{r['seconds']:.1f}"))
    for name in ("latency", "fanout"):
        if name in parts:
            module = __import__(f"bench.{name}", fromlist=["run"])
            results[name] = module.run()
            rows += [(f"{name}: {k}", f"{v}") for k, v in results[name].items()
                     if not isinstance(v, (dict, list))]
    width = max(len(label) for label, _ in rows) + 2
    for label, value in rows:
        print(f"{label:<{width}}{value:>18}")
    (HERE / "results.json").write_text(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
