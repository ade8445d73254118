"""Shared fixtures: the real embedded broker and Redis, started once per test session, and
workers run as real processes (``floorpulse worker``) with unique topics per test."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from kafka import KafkaConsumer, TopicPartition

from gateway.server import run_gateway
from stream.embedded import EmbeddedServer, start_kafka, start_redis
from stream.kafka import ensure_topics
from stream.settings import Settings

_names = itertools.count()


@dataclass(frozen=True)
class Servers:
    kafka_bootstrap: str
    redis_url: str


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    kafka = start_kafka(workdir=tmp_path_factory.mktemp("kafka"))
    try:
        store = start_redis(workdir=tmp_path_factory.mktemp("redis"))
        try:
            yield Servers(f"{kafka.host}:{kafka.port}", f"redis://{store.host}:{store.port}/0")
        finally:
            store.stop()
    finally:
        kafka.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedServer]:
    """A Redis of its own, for tests that need no broker (gateway, page)."""
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(name="redis")
async def async_redis(redis_server: EmbeddedServer) -> AsyncIterator[aioredis.Redis]:
    """An asyncio client of the session's own Redis (``redis_server``)."""
    client = aioredis.Redis(host=redis_server.host, port=redis_server.port)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def make_settings(servers: Servers, tmp_path: Path) -> Iterator[object]:
    """``make_settings(**overrides)``: settings with topics, app id and Redis prefix of
    their own, so tests never see each other's data."""

    def make(**overrides: object) -> Settings:
        n = next(_names)
        tag = f"t{os.getpid()}x{n}"
        values: dict[str, object] = {
            "kafka_bootstrap": servers.kafka_bootstrap,
            "redis_url": servers.redis_url,
            "topic_events": f"{tag}.events",
            "topic_dead_letters": f"{tag}.dead-letters",
            "topic_qa": f"{tag}.qa",
            "topic_qa_customers": f"{tag}.qa-customers",
            "topic_alerts": f"{tag}.alerts",
            "app_id": f"floorpulse-{tag}",
            "redis_prefix": f"fp-{tag}",
            "data_dir": str(tmp_path / f"data-{n}"),
            "publish_interval_s": 0.1,
        }
        values.update(overrides)
        settings = Settings(**values)  # type: ignore[arg-type]
        ensure_topics(settings)
        return settings

    yield make


class WorkerProcess:
    """A real ``floorpulse worker`` process."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings = settings
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        env = {**os.environ, **self.settings.to_env()}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "stream.cli", "--log-level", "info", "worker"],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        return self

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[object]:
    workers: list[WorkerProcess] = []

    def start(settings: Settings) -> WorkerProcess:
        worker = WorkerProcess(settings, tmp_path / f"worker-{len(workers)}.log").start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def redis_client(settings: Settings) -> redis.Redis:
    assert settings.redis_url is not None
    return redis.Redis.from_url(settings.redis_url)


def changelog_ends(settings: Settings, table: str) -> dict[int, tuple[int, int]]:
    """Per partition of ``table``'s changelog with records: the end offset the broker reports
    (``ListOffsets``, what Faust's recovery reads up to) and the offset after its last
    record, read from the start."""
    topic = f"{settings.app_id}-{table}-changelog"
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None,
                             enable_auto_commit=False, auto_offset_reset="earliest")
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic)
                                                         or ())]
        consumer.assign(tps)
        after_last: dict[int, int] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=200).items():
                after_last[tp.partition] = records[-1].offset + 1
            if all(consumer.highwater(tp) is not None
                   and consumer.position(tp) >= (consumer.highwater(tp) or 0) for tp in tps):
                break
        reported = consumer.end_offsets(tps)
        return {tp.partition: (reported[tp], after_last[tp.partition])
                for tp in tps if tp.partition in after_last}
    finally:
        consumer.close()


def wait_until(predicate: object, timeout: float = 30.0, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


@dataclass
class RunningGateway:
    """The gateway as a task in the test's event loop; stop and start it again at will."""

    settings: Settings
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.http_port}/"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.settings.host}:{self.settings.http_port}/ws"

    async def start(self) -> None:
        ready = asyncio.Event()
        self.task = asyncio.create_task(run_gateway(self.settings, ready))
        ready_wait = asyncio.create_task(ready.wait())
        await asyncio.wait({self.task, ready_wait}, timeout=10,
                           return_when=asyncio.FIRST_COMPLETED)
        ready_wait.cancel()
        if self.task.done():
            self.task.result()  # raises what went wrong
        assert ready.is_set(), "gateway not ready within 10 s"

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
