"""End-to-end latency: ``python -m bench.latency [--seconds S] [--runs R] [--rates 1000,5000]
[--interval S]``.

From an event handed to the producer to a WebSocket client receiving figures that include
it, through the whole pipeline: embedded broker + Redis, one worker process, one gateway
process (``python -m stream.cli worker|gateway``) and one WebSocket client here.

A producer process sends simulated events at a steady rate with the project's
``EventSender`` (one message per partition, flushed every 20 ms), stamped with wall time.
With every flush (20 ms) it also sends a *probe*: a ``contact.queued`` on a queue of its
own, so probe k makes that queue's ``offered`` k (50 probes a second, 1,000 in a 20-s run,
so that the p99 is the 10th worst, not the 2nd of 200). The client (subscribed to the whole
tenant, as the wallboard, but asking for updates every ``--interval`` seconds, default 0.08, as a
supervisor's screen would: ``interval_s`` in its subscribe message) notes when it first
receives a message in which ``offered`` >= k; the latency of probe k is that time minus the
time probe k was handed to the sender. Probes of the first ``--warmup`` seconds are not
counted. Everything else runs with the project's defaults (``--set`` changes a setting).

Each rate gets a fresh stack per run; runs alternate the rates (1k, 5k, 1k, 5k, ...), and
figures are medians over runs of each run's p50 / p99 / max. Prints a table and writes
``bench/results-latency.json``. The center is put at midday (``servers.midday_timezone``)
so that the figures' size does not depend on the hour the benchmark runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import queue
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis
from websockets.asyncio.client import connect

from bench.servers import (
    CpuMeter,
    Stack,
    add_settings_option,
    embedded_stack,
    machine,
    midday_timezone,
    percentile,
    produce_steady,
    settings_overrides,
)

HERE = Path(__file__).parent
RESULTS = HERE / "results-latency.json"
PROBE_QUEUE = "bench-probe"
PROBE_EVERY_S = 0.02  # each flush of the producer: 1 % of the events at 5k/s
RATES = (1000, 5000)
TARGET_P99_S = 0.25  # at 5k events/s
CLIENT_INTERVAL_S = 0.08  # the update interval the client asks for (a supervisor's screen)


@dataclass
class Seen:
    """A message in which the probe queue's ``offered`` grew."""

    received: float
    offered: int
    published_at: float  # the worker's wall clock when it began the (latest) publication
    seq: int


async def watch_probes(url: str, seen: list[Seen], done: asyncio.Event,
                       interval_s: float) -> None:
    """Note each message in which the probe queue's ``offered`` grows."""
    async with connect(url, max_size=None, ping_interval=None) as ws:
        await ws.send(orjson.dumps({"type": "subscribe", "tenant": "default",
                                    "interval_s": interval_s}).decode())
        offered = 0
        while not done.is_set():
            try:
                async with asyncio.timeout(0.5):
                    raw = await ws.recv(decode=False)
            except TimeoutError:
                continue
            received = time.time()
            message = orjson.loads(raw)
            if message.get("type") == "error":
                raise RuntimeError(f"the gateway refused the subscription: {message}")
            data = message.get("data", {})
            probes = data.get("queues", {}).get(PROBE_QUEUE)
            if probes and probes.get("offered", 0) > offered:
                offered = probes["offered"]
                seen.append(Seen(received, offered, float(data.get("published_at", "nan")),
                                 int(data.get("seq", -1))))


async def watch_redis(redis_url: str, channel: str, arrivals: dict[int, float],
                      done: asyncio.Event) -> None:
    """Note when each update (by ``seq``) arrives on the Redis channel."""
    client = aioredis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(channel)
        while not done.is_set():
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message is not None:
                arrivals[int(orjson.loads(message["data"])["seq"])] = time.time()
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await client.aclose()


STAGES = ("to_publication", "publication", "gateway")


def probe_latencies(sent: list[float], seen: list[Seen], arrivals: dict[int, float],
                    counted_from: float) -> tuple[list[float], dict[str, list[float]], int]:
    """For every probe sent at or after ``counted_from``: its latency, and how many probes
    were never seen.

    Also the stages of the message that first included it: ``to_publication`` (sent to the
    start of the worker's publication), ``publication`` (to the update on the Redis
    channel) and ``gateway`` (to the client). For a coalesced update they are those of its
    latest publication, which may be later than the one that first included the probe.
    """
    latencies: list[float] = []
    stages: dict[str, list[float]] = {name: [] for name in STAGES}
    missing = 0
    i = 0
    for k, at in enumerate(sent, start=1):
        while i < len(seen) and seen[i].offered < k:
            i += 1
        if at < counted_from:
            continue
        if i == len(seen):
            missing += 1
            continue
        message = seen[i]
        latencies.append(message.received - at)
        on_redis = arrivals.get(message.seq)
        if on_redis is not None:
            stages["to_publication"].append(message.published_at - at)
            stages["publication"].append(on_redis - message.published_at)
            stages["gateway"].append(message.received - on_redis)
    return latencies, stages, missing


async def _measure(stack: Stack, rate: float, seconds: float, warmup_s: float,
                   pids: dict[str, int], interval_s: float) -> dict[str, Any]:
    settings = stack.settings
    seen: list[Seen] = []
    arrivals: dict[int, float] = {}
    done = asyncio.Event()
    watcher = asyncio.create_task(watch_probes(stack.ws_url, seen, done, interval_s))
    listener = asyncio.create_task(watch_redis(settings.redis_url or "",
                                               settings.updates_channel("default"), arrivals,
                                               done))
    context = multiprocessing.get_context("spawn")
    stop, results = context.Event(), context.Queue()
    producer = context.Process(
        target=produce_steady, name="bench-producer",
        args=(settings.model_dump(), rate, warmup_s + seconds, stop, results, PROBE_QUEUE,
              PROBE_EVERY_S))
    try:
        producer.start()
        assert producer.pid is not None
        meter = CpuMeter(pids)
        await asyncio.sleep(warmup_s + 1.0)  # the producer's imports and events, warm-up
        meter.start()
        outcome: dict[str, Any] | None = None
        while outcome is None:
            alive = producer.is_alive()
            with contextlib.suppress(queue.Empty):
                outcome = results.get(timeout=0.01 if alive else 2.0)
            if outcome is None and (not alive or watcher.done()):
                raise RuntimeError(f"producer exited ({producer.exitcode}) or client failed")
            await asyncio.sleep(0.1)
        cpu = {**meter.stop(), "producer": outcome["cpu_percent"]}
        deadline = time.monotonic() + 5.0  # the last probes on their way
        total = len(outcome["probe_times"])
        while time.monotonic() < deadline and (not seen or seen[-1].offered < total):
            if watcher.done():
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        producer.join(30)
        if producer.is_alive():
            producer.kill()
        done.set()
        await watcher  # raises if the client failed
        await listener
    counted_from = outcome["started"] + warmup_s
    latencies, stages, missing = probe_latencies(outcome["probe_times"], seen, arrivals,
                                                 counted_from)
    sent_rate = outcome["sent"] / max(1e-9, outcome["ended"] - outcome["started"])
    return {
        "rate": rate, "events_per_s_sent": sent_rate, "probes": len(latencies),
        "probes_missing": missing,
        "p50_s": percentile(latencies, 50), "p99_s": percentile(latencies, 99),
        "max_s": max(latencies, default=float("nan")),
        **{f"{name}_{q}_s": percentile(values, n) for name, values in stages.items()
           for q, n in (("p50", 50), ("p99", 99))},
        "cpu_percent": {name: round(value, 1) for name, value in cpu.items()},
    }


def run_once(rate: float, seconds: float, warmup_s: float, tag: str,
             overrides: dict[str, Any] | None = None,
             interval_s: float = CLIENT_INTERVAL_S) -> dict[str, Any]:
    """One measurement at ``rate`` on a fresh stack (settings ``overrides`` if given), the
    client asking for updates every ``interval_s``."""
    with embedded_stack(tag, **{"timezone": midday_timezone(), **(overrides or {})}) as stack:
        worker = stack.start_worker()
        gateway = stack.start_gateway()
        stack.wait_worker_ready(worker)
        pids = {"worker": worker.pid, "gateway": gateway.pid, "broker": stack.kafka.proc.pid,
                "redis": stack.store.proc.pid}
        result = asyncio.run(_measure(stack, rate, seconds, warmup_s, pids, interval_s))
        for name, proc in (("worker", worker), ("gateway", gateway)):
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited during the run:\n{stack.log_tail(proc)}")
        return result


def run(seconds: float = 30.0, runs: int = 3, rates: tuple[float, ...] = RATES,
        warmup_s: float = 3.0, overrides: dict[str, Any] | None = None,
        verbose: bool = True, interval_s: float = CLIENT_INTERVAL_S) -> dict[str, Any]:
    """Medians over ``runs`` runs (rates alternating) of p50 / p99 / max latency, seconds;
    ``overrides``: settings to change (e.g. ``{"batch_within_s": 0.01}``; none: the
    defaults); ``interval_s``: the update interval the client asks for."""
    per_rate: dict[float, list[dict[str, Any]]] = {rate: [] for rate in rates}
    for run_index in range(runs):
        for rate in rates:
            result = run_once(rate, seconds, warmup_s, f"lat-{run_index}-{int(rate)}",
                              overrides, interval_s)
            per_rate[rate].append(result)
            if verbose:
                print(f"  run {run_index + 1}/{runs} {rate:>6,.0f} ev/s: "
                      f"p50 {result['p50_s'] * 1000:,.0f} ms  p99 {result['p99_s'] * 1000:,.0f}"
                      f" ms  max {result['max_s'] * 1000:,.0f} ms  ("
                      + ", ".join(f"{name} {result[name + '_p50_s'] * 1000:,.0f}/"
                                  f"{result[name + '_p99_s'] * 1000:,.0f}" for name in STAGES)
                      + f" ms; {result['probes']} probes,"
                      f" {result['probes_missing']} missing)  cpu {result['cpu_percent']}",
                      flush=True)
    summary: list[dict[str, Any]] = []
    for rate, results in per_rate.items():
        row: dict[str, Any] = {"rate": rate}
        keys = ["p50_s", "p99_s", "max_s", "events_per_s_sent",
                *(f"{name}_{q}_s" for name in STAGES for q in ("p50", "p99"))]
        for key in keys:
            values = [r[key] for r in results]
            row[key] = statistics.median(values)
            row[key + "_range"] = [min(values), max(values)]
        row["probes_missing"] = sum(r["probes_missing"] for r in results)
        row["cpu_percent"] = {name: statistics.median(r["cpu_percent"][name] for r in results)
                              for name in results[0]["cpu_percent"]}
        summary.append(row)
    return {"benchmark": "latency", "seconds": seconds, "runs": runs, "warmup_s": warmup_s,
            "settings_overrides": overrides or {}, "client_interval_s": interval_s,
            "probe_every_s": PROBE_EVERY_S, "target_p99_s_at_5k": TARGET_P99_S,
            "machine": machine(), "rates": summary,
            "runs_detail": {f"{rate:g}": results for rate, results in per_rate.items()}}


def print_table(results: dict[str, Any]) -> None:
    overrides = results["settings_overrides"]
    print(f"\nproduce -> WebSocket client (asking for updates every "
          f"{results['client_interval_s']:g} s; settings: "
          + (", ".join(f"{k}={v}" for k, v in overrides.items()) if overrides else "defaults")
          + f"), medians of {results['runs']} runs of {results['seconds']:.0f} s (min - max)")
    print(f"{'events/s':>9}{'sent/s':>9}{'p50 ms':>16}{'p99 ms':>16}{'max ms':>16}"
          f"{'worker cpu':>12}{'gateway cpu':>13}")
    for row in results["rates"]:
        cells = "".join(
            f"{row[k] * 1000:>7,.0f} ({row[k + '_range'][0] * 1000:,.0f}-"
            f"{row[k + '_range'][1] * 1000:,.0f})".rjust(16)
            for k in ("p50_s", "p99_s", "max_s"))
        cpu = row["cpu_percent"]
        print(f"{row['rate']:>9,.0f}{row['events_per_s_sent']:>9,.0f}{cells}"
              f"{cpu['worker']:>11.0f}%{cpu['gateway']:>12.0f}%")
    print("stages, p50 / p99 ms: " + "; ".join(
        f"{row['rate']:,.0f}/s: " + ", ".join(
            f"{name.replace('_', ' ')} {row[name + '_p50_s'] * 1000:,.0f} / "
            f"{row[name + '_p99_s'] * 1000:,.0f}" for name in STAGES)
        for row in results["rates"]))
    print(f"target: p99 <= {TARGET_P99_S * 1000:.0f} ms at 5,000 events/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rates", default=",".join(str(r) for r in RATES),
                        help="comma-separated events/s")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--interval", type=float, default=CLIENT_INTERVAL_S,
                        help="the update interval the client asks for, seconds (interval_s "
                             f"of its subscription; default {CLIENT_INTERVAL_S:g})")
    add_settings_option(parser)
    args = parser.parse_args()
    rates = tuple(float(r) for r in args.rates.split(","))
    results = run(args.seconds, args.runs, rates, args.warmup, settings_overrides(args),
                  interval_s=args.interval)
    print_table(results)
    RESULTS.write_text(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())
    print(f"written to {RESULTS.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
