"""``floorpulse up``: the whole stack on one machine.

Starts the embedded broker and Redis (unless ``FLOORPULSE_KAFKA_BOOTSTRAP`` /
``FLOORPULSE_REDIS_URL`` name servers), creates the topics, then runs the worker, the
gateway and, if asked, the simulator as child processes, and stops them all on Ctrl-C or
SIGTERM.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from types import FrameType

from stream.embedded import EmbeddedServer, start_kafka, start_redis
from stream.kafka import ensure_topics
from stream.settings import Settings, TokenSettings

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def servers(settings: Settings) -> Iterator[Settings]:
    """Settings with both servers set, starting embedded ones where none is configured."""
    started: list[EmbeddedServer] = []
    try:
        updates: dict[str, str] = {}
        if not settings.kafka_bootstrap:
            kafka = start_kafka(settings.embedded_kafka_port)
            started.append(kafka)
            updates["kafka_bootstrap"] = f"{kafka.host}:{kafka.port}"
            print(f"embedded Kafka (tansu) on {updates['kafka_bootstrap']}", flush=True)
        if not settings.redis_url:
            redis = start_redis(settings.embedded_redis_port)
            started.append(redis)
            updates["redis_url"] = f"redis://{redis.host}:{redis.port}/0"
            print(f"embedded Redis on {updates['redis_url']}", flush=True)
        yield settings.model_copy(update=updates)
    finally:
        for server in reversed(started):
            server.stop()


def spawn(args: list[str], settings: Settings) -> subprocess.Popen[bytes]:
    env = {**os.environ, **settings.to_env()}
    return subprocess.Popen([sys.executable, "-m", "stream.cli", *args], env=env)


def stop_all(children: list[subprocess.Popen[bytes]], timeout: float = 10.0) -> None:
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + timeout
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def up(settings: Settings, simulate: bool = False, speed: str = "1", seed: int = 1) -> int:
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    token = ""
    if not settings.tokens and not settings.tokens_file:
        # The demo: one admin token for this run, printed in the wallboard's URL.
        token = secrets.token_hex(16)
        settings = settings.model_copy(update={"tokens": {
            token: TokenSettings(name="demo admin", role="admin")}})
    if simulate and "alerts_live_window_s" not in settings.model_fields_set:
        # The simulated day starts at 08:00 today, perhaps hours ago: evaluate all of it.
        settings = settings.model_copy(update={"alerts_live_window_s": 0.0})
    with servers(settings) as live:
        ensure_topics(live)
        children = [spawn(["worker"], live), spawn(["gateway"], live)]
        if simulate:
            children.append(spawn(["simulate", "--speed", speed, "--seed", str(seed),
                                   "--hours", "24"], live))
        query = f"?token={token}" if token else ""
        print(f"wallboard: http://{live.host}:{live.http_port}/{query}", flush=True)
        print("press Ctrl-C to stop", flush=True)
        code = 0
        try:
            while not stopping:
                for child in children[:2]:
                    if child.poll() is not None:
                        print(f"a child process exited with code {child.returncode}; stopping",
                              file=sys.stderr, flush=True)
                        stopping, code = True, 1
                time.sleep(0.2)
        finally:
            stop_all(children)
        print("stopped", flush=True)
        return code
