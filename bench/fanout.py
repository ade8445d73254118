"""WebSocket fan-out: ``python -m bench.fanout [--clients N] [--seconds S] [--silent M]``.

The whole pipeline (embedded broker + Redis, one worker, one gateway process, the project's
defaults) with a steady stream of simulated events (``--rate``, default 200 events/s), so
that the worker publishes eight updates a second (``publish_interval_s`` 0.125 s). N
WebSocket clients subscribed to the tenant, as wallboards (asking for no update interval of
their own), get the gateway's default interval (``client_update_interval_s`` 0.25 s), with
their sends aligned to the publications (``gateway/pacing.py``): every second publication,
sent as it arrives, merged with the one before it, so four updates a second. They run in
client processes of their own (``--client-processes``, default 2; all of a process's
clients in one asyncio loop; ``--compression deflate`` as browsers offer it). For every
update each client receives they note the *push lag*: its receive time minus the update's
``published_at`` (the worker's wall clock when it began the publication, so the worker's
publication time is included), and the *gateway lag*: its receive time minus the time the
update (by ``seq``, the latest publication merged into it) arrived on the Redis channel, as
seen by a subscriber in the benchmark process. Both include the client processes' own time
to read the message. A publication that comes a little early (more than the tolerance, a
tenth of the client's interval) is not sent on its own but held for the next one (or, when
none comes, for at most one publish interval past the due time): such sends show in the
updates per client per second (below 4) rather than in the lags.

Three phases of ``--seconds`` each, one after the other on the same clients:

1. ``clients``: the N clients;
2. ``with_silent``: the same, plus M clients (``--silent``, default 50) that do the
   WebSocket handshake on a raw socket and then never read. The kernel's buffers take
   their updates for a while, then the gateway's sends to them wait, and after
   ``client_max_pending_s`` it drops them. They offer no compression (unless
   ``--silent-deflate``), so that all of this happens within a phase of 30 s: at ~4 KB per
   compressed update the buffers (~0.7 MB) would take about a minute to fill;
3. ``after_silent``: the silent clients closed again, as a control: the silent clients'
   effect is the ``with_silent`` p99 against the mean of the other two.

The gateway also records its own lag for every update it sends (gateway/lag.py): from the
arrival of the newest publication the update carries to the frame written to the client's
socket, without the clients' time to read it. It is read from its ``GET /stats`` at the
start and end of each phase: the *send* lag.

For each phase: p50 / p99 / max of the lags (all clients' updates pooled), updates per
client per second, CPU% of the gateway and of the other processes (100 % = one core). The
targets (p99 <= 100 ms at 1,000 clients, silent clients change it by < 20 %) are judged on
the send lag, the gateway's own: the push lag also holds the worker's time to build and
write the update, and both client-side lags the client processes' time, on the same cores.
Several runs (``--runs``) give medians. Prints a table and writes
``bench/results-fanout.json``. The center is put at midday (``servers.midday_timezone``):
an update carries the changed queues' intervals of the day so far, so its size depends on
the hour.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import multiprocessing
import os
import resource
import socket
import statistics
import threading
import time
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

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
from gateway.lag import lag_between
from gateway.pacing import publications_per_send

HERE = Path(__file__).parent
RESULTS = HERE / "results-fanout.json"
PHASES = ("clients", "with_silent", "after_silent")
TARGET_P99_S = 0.100  # 1,000 clients
TARGET_SILENT_CHANGE = 0.20  # silent clients change the others' p99 by less than this
CONNECT_CONCURRENCY = 50
SETTLE_S = 2.0
CHECK_EVERY = 97  # every n-th update a client receives is also fully decoded, as a check


# ------------------------------------------------------------------------ client process

def _field(raw: bytes, name: bytes) -> float:
    """A top-level number of an update, found without decoding the whole message.

    The gateway's updates end with their scalar fields (``gateway.state.coalesce`` adds them
    after the entries), so the last occurrence of the key is the top-level one; every
    ``CHECK_EVERY``-th message is checked against a full decode.
    """
    key = b'"' + name + b'":'
    at = raw.rfind(key)
    if at < 0:
        return float("nan")
    start = at + len(key)
    end = start
    while end < len(raw) and raw[end] in b"0123456789.eE+-":
        end += 1
    return float(raw[start:end])


class Recorder:
    """The updates received in the current phase, all clients pooled."""

    def __init__(self, clients: int) -> None:
        self.recording = False
        self.received = array("d")
        self.published = array("d")
        self.seqs = array("q")
        self.counts = [0] * clients
        self.closed = 0
        self.checked = 0
        self.stall_max = 0.0  # the longest the client process's event loop was late

    def reset(self) -> None:
        self.received, self.published, self.seqs = array("d"), array("d"), array("q")
        self.counts = [0] * len(self.counts)
        self.stall_max = 0.0

    def take(self) -> dict[str, Any]:
        return {"received": self.received.tolist(), "published": self.published.tolist(),
                "seqs": self.seqs.tolist(), "counts": list(self.counts),
                "stall_max": self.stall_max}


async def _watch_loop(recorder: Recorder, every_s: float = 0.01) -> None:
    """How late the loop wakes a sleeper: the client process's own share of the lags."""
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(every_s)
        late = loop.time() - before - every_s
        if recorder.recording and late > recorder.stall_max:
            recorder.stall_max = late


async def _read(ws: ClientConnection, index: int, recorder: Recorder) -> None:
    n = 0
    try:
        while True:
            raw = await ws.recv(decode=False)
            received = time.time()
            if not recorder.recording or b'"type":"update"' not in raw[:32]:
                continue
            published = _field(raw, b"published_at")
            seq = int(_field(raw, b"seq"))
            n += 1
            if n % CHECK_EVERY == 0:
                data = orjson.loads(raw)["data"]
                if data.get("published_at") != published or data.get("seq") != seq:
                    raise AssertionError("the update's scalar fields were misread")
                recorder.checked += 1
            recorder.received.append(received)
            recorder.published.append(published)
            recorder.seqs.append(seq)
            recorder.counts[index] += 1
    except ConnectionClosed:
        recorder.closed += 1


async def _silent_client(host: str, port: int, path: str, deflate: bool) -> socket.socket:
    """A WebSocket handshake on a raw socket; then nothing is ever read from it."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    await loop.sock_connect(sock, (host, port))
    key = base64.b64encode(os.urandom(16)).decode()
    extension = ("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                 if deflate else "")
    request = (f"GET {path}?tenant=default HTTP/1.1\r\nHost: {host}:{port}\r\n"
               f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\n{extension}\r\n")
    await loop.sock_sendall(sock, request.encode())
    return sock


async def _clients_main(url: str, clients: int, compression: str | None, conn: Any) -> None:
    """Connect ``clients``, then do what the benchmark process says, answering on ``conn``:
    ``("record",)`` start recording; ``("stop",)`` stop, answer ``("samples", ...)``;
    ``("silent", n, deflate)`` connect n clients that never read (n = 0: close them),
    answer ``("silent", n)``;
    ``("quit",)`` close everything, answer ``("done", totals)``."""
    loop = asyncio.get_running_loop()
    recorder = Recorder(clients)
    connections: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)
    subscribe = orjson.dumps({"type": "subscribe", "tenant": "default"}).decode()

    async def open_client(index: int) -> None:
        async with limit:
            ws = await connect(url, max_size=None, ping_interval=None, open_timeout=60,
                               close_timeout=2, compression=compression)
            connections.append(ws)
            await ws.send(subscribe)
            await ws.recv(decode=False)  # the snapshot
        readers.append(asyncio.create_task(_read(ws, index, recorder)))

    sockets: list[socket.socket] = []
    split = urlsplit(url)
    try:
        started = time.monotonic()
        readers.append(asyncio.create_task(_watch_loop(recorder)))
        await asyncio.gather(*(open_client(i) for i in range(clients)))
        # The collector's full passes over the connections' objects stalled this process for
        # up to ~0.8 s at 500 clients, delaying every client's messages: collect between
        # phases only, outside the measurement.
        gc.collect()
        gc.freeze()
        gc.disable()
        conn.send(("connected", time.monotonic() - started))
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command[0] == "record":
                recorder.reset()
                recorder.recording = True
            elif command[0] == "stop":
                recorder.recording = False
                conn.send(("samples", recorder.take()))
                gc.collect()
            elif command[0] == "silent" and command[1] == 0:
                for sock in sockets:
                    sock.close()
                sockets = []
                conn.send(("silent", 0))
            elif command[0] == "silent":
                sockets.extend(await asyncio.gather(*(
                    _silent_client(split.hostname or "", split.port or 80, split.path,
                                   command[2]) for _ in range(command[1]))))
                conn.send(("silent", command[1]))
            else:
                break
    finally:
        for sock in sockets:
            sock.close()
        for task in readers:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in connections), return_exceptions=True)
    conn.send(("done", {"closed_during_run": recorder.closed, "checked": recorder.checked}))


def client_process(url: str, clients: int, compression: str | None, conn: Any) -> None:
    """Entry point of a client process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = clients + 512
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    try:
        asyncio.run(_clients_main(url, clients, compression, conn))
    except BaseException as exc:
        conn.send(("error", repr(exc)))
        raise


class ClientProcesses:
    """The client processes, seen from the benchmark process."""

    def __init__(self, url: str, clients: int, processes: int,
                 compression: str | None) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Any] = []
        self.procs: list[Any] = []
        for index in range(processes):
            share = clients // processes + (1 if index < clients % processes else 0)
            ours, theirs = context.Pipe()
            proc = context.Process(target=client_process, name=f"bench-clients-{index}",
                                   args=(url, share, compression, theirs))
            self.pipes.append(ours)
            self.procs.append(proc)

    def start(self) -> None:
        for proc in self.procs:
            proc.start()

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self.procs]

    def expect(self, kind: str, pipe: Any, timeout: float,
               alive: Callable[[], None]) -> Any:
        """The next message of a client process, which must be ``kind``; ``alive()`` is
        called while waiting (it raises if a server process has died)."""
        deadline = time.monotonic() + timeout
        while not pipe.poll(0.2):
            alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {kind!r} from a client process within {timeout:.0f} s")
        got, value = pipe.recv()
        if got != kind:
            raise RuntimeError(f"client process: expected {kind!r}, got {got!r}: {value}")
        return value

    def all(self, command: tuple[Any, ...], kind: str, timeout: float,
            alive: Callable[[], None]) -> list[Any]:
        for pipe in self.pipes:
            pipe.send(command)
        return [self.expect(kind, pipe, timeout, alive) for pipe in self.pipes]

    def stop(self) -> list[dict[str, Any]]:
        totals: list[dict[str, Any]] = []
        for pipe, proc in zip(self.pipes, self.procs, strict=True):
            if proc.is_alive():
                with contextlib.suppress(OSError, EOFError, TimeoutError, RuntimeError):
                    pipe.send(("quit",))
                    totals.append(self.expect("done", pipe, 30, lambda: None))
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        return totals


# ---------------------------------------------------------------------- benchmark process

class RedisArrivals:
    """When each update (by ``seq``) arrived on the tenant's Redis channel (a thread)."""

    def __init__(self, stack: Stack) -> None:
        self.client = stack.redis()
        self.pubsub = self.client.pubsub()  # type: ignore[no-untyped-call]
        self.pubsub.subscribe(stack.settings.updates_channel("default"))
        self.arrivals: dict[int, float] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="redis-arrivals", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            message = self.pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if message is not None:
                self.arrivals[int(orjson.loads(message["data"])["seq"])] = time.time()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.pubsub.close()
        self.client.close()


def _summary(samples: dict[str, Any], arrivals: dict[int, float], seconds: float,
             cpu: dict[str, float], updates_published: int,
             sends: dict[str, float]) -> dict[str, Any]:
    received, published, seqs = samples["received"], samples["published"], samples["seqs"]
    push = [r - p for r, p in zip(received, published, strict=True)]
    gateway = [r - arrivals[s] for r, s in zip(received, seqs, strict=True) if s in arrivals]
    counts = samples["counts"]
    return {
        "updates_received": len(push),
        "push_p50_s": percentile(push, 50), "push_p99_s": percentile(push, 99),
        "push_max_s": max(push, default=float("nan")),
        "gateway_p50_s": percentile(gateway, 50), "gateway_p99_s": percentile(gateway, 99),
        "send_p50_s": sends["p50"] / 1000, "send_p99_s": sends["p99"] / 1000,
        "send_max_s": sends["max"] / 1000, "sends": int(sends["count"]),
        "updates_published_per_s": updates_published / seconds,
        "updates_per_client_per_s": statistics.median(counts) / seconds if counts else 0.0,
        "min_updates_per_client_per_s": min(counts, default=0) / seconds,
        "client_loop_stall_max_s": samples["stall_max"],
        "cpu_percent": {name: round(value, 1) for name, value in cpu.items()},
    }


def run_once(clients: int, silent: int, seconds: float, rate: float,
             compression: str | None, tag: str, processes: int = 2,
             overrides: dict[str, Any] | None = None,
             silent_deflate: bool = False) -> dict[str, Any]:
    """Both phases on a fresh stack."""
    with embedded_stack(tag, **{"timezone": midday_timezone(), **(overrides or {})}) as stack:
        worker = stack.start_worker()
        gateway = stack.start_gateway()
        stack.wait_worker_ready(worker)

        def alive() -> None:
            for name, proc in (("worker", worker), ("gateway", gateway)):
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited:\n{stack.log_tail(proc)}")

        context = multiprocessing.get_context("spawn")
        stop, produced = context.Event(), context.Queue()
        budget = 120 + clients / 20 + 2 * seconds + SETTLE_S  # connecting, phases, margins
        producer = context.Process(target=produce_steady, name="bench-producer",
                                   args=(stack.settings.model_dump(), rate, budget, stop,
                                         produced))
        fleet = ClientProcesses(stack.ws_url, clients, processes, compression)
        arrivals = RedisArrivals(stack)
        store = stack.redis()
        try:
            producer.start()
            fleet.start()
            assert producer.pid is not None
            connect_s = max(fleet.expect("connected", pipe, 60 + clients / 10, alive)
                            for pipe in fleet.pipes)
            pids = {"gateway": gateway.pid, "worker": worker.pid,
                    "broker": stack.kafka.proc.pid, "redis": stack.store.proc.pid,
                    "producer": producer.pid,
                    **{f"clients-{i}": pid for i, pid in enumerate(fleet.pids)}}
            time.sleep(SETTLE_S)
            phases: dict[str, dict[str, Any]] = {}
            for phase in PHASES:
                if phase != "clients":
                    fleet.pipes[0].send(("silent", silent if phase == "with_silent" else 0,
                                         silent_deflate))
                    fleet.expect("silent", fleet.pipes[0], 60, alive)
                meter = CpuMeter(pids)
                seq_at_start = _seq(stack, store)
                lags_before = stack.gateway_stats()["push_lag_ms"]
                for pipe in fleet.pipes:
                    pipe.send(("record",))
                meter.start()
                time.sleep(seconds)
                samples = fleet.all(("stop",), "samples", 60, alive)
                cpu = meter.stop()
                sends = lag_between(lags_before, stack.gateway_stats()["push_lag_ms"])
                cpu["clients"] = sum(cpu.pop(f"clients-{i}") for i in range(processes))
                phases[phase] = {"samples": _pool(samples), "cpu": cpu, "sends": sends,
                                 "published": _seq(stack, store) - seq_at_start,
                                 "backlog": _gateway_backlog(store)}
        finally:
            totals = fleet.stop()
            stop.set()
            producer.join(30)
            if producer.is_alive():
                producer.kill()
            arrivals.close()
            store.close()
        dropped = stack.log_text(gateway).count("nothing could be sent")
        result: dict[str, Any] = {
            "clients": clients, "silent": silent, "client_processes": processes,
            "connect_s": connect_s,
            "publish_interval_s": stack.settings.publish_interval_s,
            "client_update_interval_s": stack.settings.client_update_interval_s,
            "closed_during_run": sum(t["closed_during_run"] for t in totals),
            "gateway_slow_clients_dropped": dropped,
        }
        for phase in PHASES:
            result[phase] = _summary(phases[phase]["samples"], arrivals.arrivals, seconds,
                                     phases[phase]["cpu"], phases[phase]["published"],
                                     phases[phase]["sends"])
            result[phase]["gateway_redis_backlog_bytes_at_end"] = phases[phase]["backlog"]
        return result


def _pool(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The client processes' samples as one."""
    pooled: dict[str, Any] = {key: [value for sample in samples for value in sample[key]]
                              for key in ("received", "published", "seqs", "counts")}
    pooled["stall_max"] = max(sample["stall_max"] for sample in samples)
    return pooled


def _gateway_backlog(store: redis.Redis) -> int:
    """Bytes of updates Redis holds for the gateway (its pattern subscription) unread."""
    return sum(int(c.get("omem", 0)) for c in store.client_list()
               if int(c.get("psub", 0)) > 0)


def _seq(stack: Stack, store: redis.Redis) -> int:
    raw = store.get(stack.settings.snapshot_key("default"))
    return int(orjson.loads(raw)["seq"]) if raw else 0


METRICS = ("push_p50_s", "push_p99_s", "push_max_s", "gateway_p50_s", "gateway_p99_s",
           "send_p50_s", "send_p99_s", "send_max_s",
           "updates_published_per_s", "updates_per_client_per_s",
           "min_updates_per_client_per_s", "client_loop_stall_max_s")


def run(clients: int = 1000, seconds: float = 30.0, runs: int = 1, silent: int = 50,
        rate: float = 200.0, compression: str | None = "deflate", processes: int = 2,
        overrides: dict[str, Any] | None = None, silent_deflate: bool = False,
        verbose: bool = True) -> dict[str, Any]:
    """Medians over ``runs`` of each phase's figures (seconds)."""
    details: list[dict[str, Any]] = []
    for run_index in range(runs):
        result = run_once(clients, silent, seconds, rate, compression, f"fan-{run_index}",
                          processes, overrides, silent_deflate)
        details.append(result)
        if verbose:
            for phase in PHASES:
                r = result[phase]
                print(f"  run {run_index + 1}/{runs} {phase:<12} push p50 "
                      f"{r['push_p50_s'] * 1000:,.0f} p99 {r['push_p99_s'] * 1000:,.0f} max "
                      f"{r['push_max_s'] * 1000:,.0f} ms, gateway p50 "
                      f"{r['gateway_p50_s'] * 1000:,.0f} p99 {r['gateway_p99_s'] * 1000:,.0f}"
                      f" ms, send p50 {r['send_p50_s'] * 1000:,.0f} p99 "
                      f"{r['send_p99_s'] * 1000:,.0f} max {r['send_max_s'] * 1000:,.0f} ms "
                      f"({r['sends']:,} sends), {r['updates_per_client_per_s']:.1f} upd/s/client "
                      f"(published {r['updates_published_per_s']:.1f}/s), gateway's unread "
                      f"Redis {r['gateway_redis_backlog_bytes_at_end'] / 1e6:.1f} MB, client "
                      f"loop stall max {r['client_loop_stall_max_s'] * 1000:,.0f} ms, cpu "
                      f"{r['cpu_percent']}", flush=True)
    summary: dict[str, Any] = {}
    for phase in PHASES:
        row: dict[str, Any] = {}
        for key in METRICS:
            values = [d[phase][key] for d in details]
            row[key] = statistics.median(values)
            row[key + "_range"] = [min(values), max(values)]
        row["cpu_percent"] = {
            name: statistics.median(d[phase]["cpu_percent"][name] for d in details)
            for name in details[0][phase]["cpu_percent"]}
        summary[phase] = row
    # Against the phases before and after, so that a drift over the run is not taken for
    # the silent clients' effect.
    changes: dict[str, float | None] = {}
    for lag in ("push", "gateway", "send"):
        base = (summary["clients"][f"{lag}_p99_s"] + summary["after_silent"][f"{lag}_p99_s"]) / 2
        loaded = summary["with_silent"][f"{lag}_p99_s"]
        changes[lag] = (loaded - base) / base if base else None
    return {
        "benchmark": "fanout", "clients": clients, "silent": silent, "seconds": seconds,
        "runs": runs, "rate": rate, "compression": compression or "none",
        "client_processes": processes, "silent_deflate": silent_deflate,
        "settings_overrides": overrides or {}, "machine": machine(),
        "publish_interval_s": details[0]["publish_interval_s"],
        "client_update_interval_s": details[0]["client_update_interval_s"],
        "target_p99_s": TARGET_P99_S, "target_silent_change": TARGET_SILENT_CHANGE,
        "phases": summary, "silent_p99_change": changes,
        "runs_detail": details,
    }


def print_table(results: dict[str, Any]) -> None:
    overrides = results["settings_overrides"]
    print(f"\n{results['clients']:,} clients in {results['client_processes']} process(es) "
          f"(+{results['silent']} silent in the second phase), {results['rate']:,.0f} events/s,"
          f" compression {results['compression']}, "
          f"medians of {results['runs']} run(s) of {results['seconds']:.0f} s per phase")
    interval = results["client_update_interval_s"]
    publish = results["publish_interval_s"]
    every = publications_per_send(interval, publish)
    sent = "each publication" if every == 1 else f"one publication in {every}"
    print(f"settings: {', '.join(f'{k}={v}' for k, v in overrides.items()) or 'defaults'}; "
          f"the worker publishes at most every {publish:g} s; each client "
          f"(client_update_interval_s {interval:g} s) is sent {sent} as it arrives: "
          f"{1 / (every * publish):g} updates a second at most")
    print(f"{'phase':<13}{'push p50':>10}{'push p99':>10}{'push max':>10}{'gw p50':>8}"
          f"{'gw p99':>8}{'send p50':>10}{'send p99':>10}{'send max':>10}{'upd/s/cl':>10}"
          f"{'published/s':>13}{'gateway cpu':>13}{'clients cpu':>13}")
    for phase, row in results["phases"].items():
        cpu = row["cpu_percent"]
        print(f"{phase:<13}" + "".join(
            f"{row[k] * 1000:>{w},.0f}" for k, w in (
                ("push_p50_s", 10), ("push_p99_s", 10), ("push_max_s", 10),
                ("gateway_p50_s", 8), ("gateway_p99_s", 8), ("send_p50_s", 10),
                ("send_p99_s", 10), ("send_max_s", 10)))
              + f"{row['updates_per_client_per_s']:>10.1f}"
              f"{row['updates_published_per_s']:>13.1f}{cpu['gateway']:>12.0f}%"
              f"{cpu['clients']:>12.0f}%")
    changes = results["silent_p99_change"]
    print("(ms; push: from published_at, which the worker takes before it builds and writes "
          "the update; gw: from the update's arrival on Redis; both to the client's read, "
          "its own time included. send: the gateway's own, from the update's arrival at the "
          "gateway to its frame written to the client's socket, GET /stats)")
    print("silent clients change the p99 by " + ", ".join(
        f"{'-' if change is None else f'{change * 100:+.0f} %'} ({lag})"
        for lag, change in changes.items()) + " (against the mean of the phases around)")
    dropped = [d["gateway_slow_clients_dropped"] for d in results["runs_detail"]]
    print(f"clients dropped by the gateway as too slow, per run: {dropped} "
          f"(of {results['silent']} silent)")
    print("targets (send, the gateway's push lag): p99 <= "
          f"{TARGET_P99_S * 1000:.0f} ms at 1,000 clients, change < "
          f"{TARGET_SILENT_CHANGE * 100:.0f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0, help="per phase")
    parser.add_argument("--silent", type=int, default=50)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--rate", type=float, default=200.0, help="events/s")
    parser.add_argument("--client-processes", type=int, default=2,
                        help="processes the clients are spread over")
    parser.add_argument("--compression", choices=("deflate", "none"), default="deflate",
                        help="what the clients offer (browsers offer deflate)")
    parser.add_argument("--silent-deflate", action="store_true",
                        help="silent clients offer compression too (their buffers then take "
                             "about a minute to fill at the default sizes)")
    add_settings_option(parser)
    args = parser.parse_args()
    compression = None if args.compression == "none" else args.compression
    results = run(args.clients, args.seconds, args.runs, args.silent, args.rate, compression,
                  args.client_processes, settings_overrides(args), args.silent_deflate)
    print_table(results)
    RESULTS.write_text(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())
    print(f"written to {RESULTS.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
