"""Shared helpers of the benchmarks: the embedded stack, worker and gateway processes,
simulated events, process CPU and percentiles.

:func:`embedded_stack` starts the embedded broker and Redis in a temporary directory and
yields a :class:`Stack` whose settings point at them; the worker and gateway it starts are
real ``python -m stream.cli`` processes, stopped (with the servers) when the block exits,
also on errors.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import redis

from producers.live import send_paced
from producers.simulator import default_config, simulate
from stream.embedded import EmbeddedServer, free_port, start_kafka, start_redis
from stream.kafka import EventSender, ensure_topics
from stream.settings import Settings

psutil: Any
try:
    import psutil  # type: ignore[import-untyped,no-redef]
except ImportError:  # optional: /proc is read instead
    psutil = None


def simulated_events(count: int, seed: int = 100,
                     text: bool = True) -> list[dict[str, object]]:
    """``count`` events of a simulated 200-agent center (as many 12-hour days as needed);
    without ``text``, no transcripts and no chat messages: the contact and agent events
    (and the schedules and forecasts) that the figures of issues 1-3 read."""
    events: list[dict[str, object]] = []
    day = 0
    while len(events) < count:
        start = datetime(2026, 11, 23, 8, tzinfo=UTC).replace(day=23 + day)
        config = default_config(hours=12, seed=seed + day, agents=200, start=start)
        if not text:
            config = replace(config, transcripts=False, chat_messages=False)
        events.extend(simulate(config))
        day += 1
    return events[:count]


def midday_timezone(now: datetime | None = None) -> str:
    """A fixed-offset zone in which it is about noon now.

    A snapshot carries every 15-minute interval of the day so far, so the size of the
    figures (and the cost of publishing and pushing them) grows through the day; a center
    at midday makes runs at any hour comparable.
    """
    now = now or datetime.now(UTC)
    offset = max(-12, min(14, 12 - now.hour))
    if offset == 0:
        return "Etc/GMT"
    # The Etc zones' signs are inverted (POSIX): Etc/GMT-3 is three hours ahead of UTC.
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def wall_iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")


def queued_event(contact_id: str, queue: str, at: float | None = None) -> dict[str, object]:
    """A ``contact.queued`` stamped with wall time: the queue's ``offered`` goes up by one."""
    return {"event_id": contact_id, "type": "contact.queued", "ts": wall_iso(at or time.time()),
            "tenant": "default", "contact_id": contact_id, "queue": queue}


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


READY_QUEUE = "bench-ready"


class Stack:
    """The embedded broker and Redis, with the settings that point at them; worker and
    gateway processes started here are stopped by :meth:`close`."""

    def __init__(self, settings: Settings, workdir: Path, kafka: EmbeddedServer,
                 store: EmbeddedServer) -> None:
        self.settings = settings
        self.workdir = workdir
        self.kafka = kafka
        self.store = store
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: dict[int, Path] = {}

    @property
    def ws_url(self) -> str:
        return f"ws://{self.settings.host}:{self.settings.http_port}/ws"

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.settings.redis_url or "")

    def _spawn(self, command: str, log_level: str = "warning") -> subprocess.Popen[bytes]:
        log = self.workdir / f"{command}-{len(self.procs)}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "stream.cli", "--log-level", log_level, command],
                env={**os.environ, **self.settings.to_env()},
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        self.procs.append(proc)
        self.logs[proc.pid] = log
        return proc

    def log_tail(self, proc: subprocess.Popen[bytes], chars: int = 3000) -> str:
        return self.logs[proc.pid].read_text(errors="replace")[-chars:]

    def log_text(self, proc: subprocess.Popen[bytes]) -> str:
        return self.logs[proc.pid].read_text(errors="replace")

    def start_worker(self) -> subprocess.Popen[bytes]:
        """A ``floorpulse worker``; see :meth:`wait_for_snapshot` to know it works."""
        return self._spawn("worker")

    def start_gateway(self, timeout: float = 30.0) -> subprocess.Popen[bytes]:
        """A ``floorpulse gateway``, returned once ``/healthz`` answers 200."""
        proc = self._spawn("gateway")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"gateway exited ({proc.returncode}):\n{self.log_tail(proc)}")
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection(self.settings.host, self.settings.http_port,
                                                  timeout=1)
                try:
                    conn.request("GET", "/healthz")
                    if conn.getresponse().status == 200:
                        return proc
                finally:
                    conn.close()
            time.sleep(0.1)
        raise RuntimeError(f"gateway not healthy within {timeout:.0f} s:\n{self.log_tail(proc)}")

    def gateway_stats(self) -> dict[str, Any]:
        """The gateway's ``GET /stats`` (its counters and push lags, gateway/lag.py)."""
        conn = http.client.HTTPConnection(self.settings.host, self.settings.http_port,
                                          timeout=10)
        try:
            conn.request("GET", "/stats")
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"GET /stats: {response.status} {body[:200]!r}")
            stats: dict[str, Any] = orjson.loads(body)
            return stats
        finally:
            conn.close()

    def wait_for_snapshot(self, predicate: Callable[[dict[str, Any]], bool],
                          proc: subprocess.Popen[bytes] | None = None, tenant: str = "default",
                          timeout: float = 90.0) -> dict[str, Any]:
        """Poll the tenant's snapshot in Redis until ``predicate`` holds; ``proc`` (the
        worker) must stay alive meanwhile."""
        client = self.redis()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"worker exited ({proc.returncode}):\n"
                                       f"{self.log_tail(proc)}")
                raw = client.get(self.settings.snapshot_key(tenant))
                if raw:
                    snapshot: dict[str, Any] = orjson.loads(raw)
                    if predicate(snapshot):
                        return snapshot
                time.sleep(0.05)
        finally:
            client.close()
        tail = self.log_tail(proc) if proc is not None else ""
        raise TimeoutError(f"snapshot condition not met within {timeout:.0f} s\n{tail}")

    def wait_worker_ready(self, worker: subprocess.Popen[bytes], timeout: float = 90.0) -> float:
        """Send one event and wait until the worker has published it (group joined,
        partitions assigned); returns the seconds waited."""
        started = time.monotonic()
        sender = EventSender(self.settings)
        try:
            sender.send(queued_event("bench-ready-1", READY_QUEUE))
            sender.flush()
        finally:
            sender.close()
        self.wait_for_snapshot(lambda snap: READY_QUEUE in snap.get("queues", {}), worker,
                               timeout=timeout)
        return time.monotonic() - started

    def close(self) -> None:
        for proc in reversed(self.procs):
            stop_process(proc)
        self.procs.clear()


@contextlib.contextmanager
def embedded_stack(tag: str, **overrides: Any) -> Iterator[Stack]:
    """Broker + Redis in a temporary directory; settings with a free HTTP port, app id
    ``bench-{tag}`` and ``overrides``; the topics created. Everything stops on exit."""
    with tempfile.TemporaryDirectory(prefix="floorpulse-bench-") as tmp:
        workdir = Path(tmp)
        kafka = start_kafka(workdir=workdir)
        try:
            store = start_redis(workdir=workdir)
            try:
                values: dict[str, Any] = {
                    "kafka_bootstrap": f"{kafka.host}:{kafka.port}",
                    "redis_url": f"redis://{store.host}:{store.port}/0",
                    "data_dir": str(workdir / "data"),
                    "app_id": f"bench-{tag}",
                    "http_port": free_port(),
                }
                values.update(overrides)
                settings = Settings(**values)
                ensure_topics(settings)
                stack = Stack(settings, workdir, kafka, store)
                try:
                    yield stack
                finally:
                    stack.close()
            finally:
                store.stop()
        finally:
            kafka.stop()


# --------------------------------------------------------------------------- producing

TICK_S = 0.02  # the live producers' flush period (producers.live.FLUSH_EVERY_S)


def produce_steady(settings_values: dict[str, Any], rate: float, max_seconds: float,
                   stop: Any, results: Any, probe_queue: str | None = None,
                   probe_every_s: float = 0.1, seed: int = 100) -> None:
    """Send simulated events at a steady ``rate`` (events/s) for ``max_seconds`` or until
    ``stop`` (a multiprocessing event) is set; meant to run in a process of its own.

    Events go through the project's ``EventSender`` (batched per partition) paced by
    ``send_paced`` (flushed every 20 ms), each stamped with the wall time at which it is
    handed to the sender, so stream time advances with wall time. With ``probe_queue``,
    every ``probe_every_s`` a ``contact.queued`` on that queue is sent too: probe k makes
    the queue's ``offered`` k. Puts on ``results``: the probes' send times (wall clock,
    index k-1), events sent, start and end, and its CPU%.
    """
    settings = Settings(**settings_values)
    events = simulated_events(int(rate * max_seconds) + 1, seed)
    ticks_per_probe = max(1, round(probe_every_s / TICK_S))

    def schedule() -> Iterator[tuple[float, dict[str, object] | None]]:
        """(due time, event or None for a probe), quantized to ticks."""
        due = 0
        for tick in range(int(max_seconds / TICK_S)):
            if tick % 10 == 0 and stop.is_set():
                return
            at = tick * TICK_S
            until = min(len(events), int((tick + 1) * TICK_S * rate))
            while due < until:
                yield at, events[due]
                due += 1
            if probe_queue is not None and tick % ticks_per_probe == 0:
                yield at, None

    probe_times: list[float] = []

    def send(item: tuple[float, dict[str, object] | None]) -> None:
        now = time.time()
        event = item[1]
        if event is None:
            assert probe_queue is not None
            probe_times.append(now)
            sender.send(queued_event(f"probe-{len(probe_times)}", probe_queue, now))
        else:
            sender.send({**event, "ts": wall_iso(now)})

    sender = EventSender(settings)
    started, cpu = time.time(), time.process_time()
    try:
        sent = send_paced(schedule(), sender, send, lambda item: item[0], 1.0)
    finally:
        sender.close()
    ended = time.time()
    results.put({"probe_times": probe_times, "sent": sent - len(probe_times),
                 "started": started, "ended": ended,
                 "cpu_percent": 100 * (time.process_time() - cpu) / max(1e-9, ended - started)})


# --------------------------------------------------------------------------- measuring

def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (psutil if installed, else /proc);
    ``ProcessLookupError`` once it has ended."""
    if psutil is not None:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess as exc:
            raise ProcessLookupError(pid) from exc
        return float(times.user + times.system)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError as exc:
        raise ProcessLookupError(pid) from exc
    fields = stat.rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


class CpuMeter:
    """CPU% of some processes over a window: ``start()`` ... ``stop()`` (100 % = one core)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.started: dict[str, float] = {}
        self.at = 0.0

    def start(self) -> None:
        self.at = time.monotonic()
        self.started = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict[str, float]:
        elapsed = max(1e-9, time.monotonic() - self.at)
        used: dict[str, float] = {}
        for name, pid in self.pids.items():
            try:
                used[name] = 100 * (cpu_seconds(pid) - self.started[name]) / elapsed
            except ProcessLookupError:
                used[name] = math.nan  # the process has ended
        return used


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), nearest rank; NaN when there are no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def add_settings_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        metavar="NAME=VALUE",
                        help="change a setting for the run (repeatable; none: the "
                             "defaults), e.g. --set batch_within_s=0.01")


def settings_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """``--set`` values, checked against the settings' fields (values as JSON if they
    parse, else as strings)."""
    overrides: dict[str, Any] = {}
    for item in args.settings:
        name, sep, text = item.partition("=")
        if not sep or name not in Settings.model_fields:
            raise SystemExit(f"--set {item!r}: expected NAME=VALUE with a settings field name")
        try:
            overrides[name] = orjson.loads(text)
        except orjson.JSONDecodeError:
            overrides[name] = text
    Settings(**overrides)  # fails early on a bad value
    return overrides


def machine() -> dict[str, Any]:
    import platform
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "load_avg_1m": os.getloadavg()[0]}
