"""The command line as a user runs it: simulate, replay pacing, and `floorpulse up`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from producers.replay import replay
from stream.embedded import free_port
from tests.conftest import wait_until

pytestmark = pytest.mark.integration


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stream.cli", *args], capture_output=True,
                          text=True, timeout=120, check=True, env=env)


def test_simulate_writes_the_same_file_for_the_same_seed(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    run_cli("simulate", "--hours", "1", "--seed", "3", "--out", str(a))
    run_cli("simulate", "--hours", "1", "--seed", "3", "--out", str(b))
    run_cli("simulate", "--hours", "1", "--seed", "4", "--out", str(c))
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    types = {orjson.loads(line)["type"] for line in a.read_bytes().splitlines()}
    assert {"contact.queued", "contact.answered", "agent.state"} <= types


def test_replay_keeps_the_recorded_pacing_scaled_by_speed(
        make_settings: Any, tmp_path: Path) -> None:
    settings = make_settings()
    path = tmp_path / "paced.jsonl"
    lines = [orjson.dumps({"type": "contact.queued", "event_id": f"p{i}",
                           "ts": f"2026-11-23T08:00:{i * 4:02d}Z", "contact_id": f"c{i}",
                           "queue": "billing"}) for i in range(11)]  # 40 s of events
    path.write_bytes(b"\n".join(lines) + b"\n")
    started = time.monotonic()
    assert replay(path, settings, speed=20.0, progress=None) == 11
    elapsed = time.monotonic() - started
    assert 1.9 <= elapsed < 4.0  # 40 s / 20 = 2 s


def test_up_runs_the_whole_embedded_stack_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOORPULSE_")}
    env.update({"FLOORPULSE_HTTP_PORT": str(port), "FLOORPULSE_DATA_DIR": str(tmp_path),
                "FLOORPULSE_PUBLISH_INTERVAL_S": "0.2"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "stream.cli", "up", "--simulate", "--speed", "120"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output: list[str] = []
    try:
        assert proc.stdout is not None
        redis_url = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            output.append(line)
            found = re.search(r"embedded Redis on (\S+)", line)
            if found:
                redis_url = found.group(1)
            if line.startswith("wallboard: "):
                # The demo prints a URL with a fresh admin token.
                assert re.fullmatch(rf"wallboard: http://127\.0\.0\.1:{port}/\?token=[0-9a-f]{{32}}",
                                    line.strip()), line
                break
        assert redis_url, "".join(output)

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    return bool(r.status == 200)
            except OSError:
                return False

        wait_until(healthy, timeout=30)
        client = redis.Redis.from_url(redis_url)

        def simulated_contacts_counted() -> bool:
            raw = client.get("floorpulse:default:snapshot")
            if raw is None:
                return False
            queues = orjson.loads(raw)["queues"]
            return sum(q["offered"] for q in queues.values()) > 0

        wait_until(simulated_contacts_counted, timeout=60)
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rest, _ = proc.communicate(timeout=45)
        except subprocess.TimeoutExpired:
            proc.kill()
            rest, _ = proc.communicate()
            raise AssertionError("floorpulse up did not stop within 45 s") from None
    assert proc.returncode == 0, "".join(output) + rest
    assert "stopped" in rest
