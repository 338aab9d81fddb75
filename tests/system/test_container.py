"""The image and compose file: build, `docker compose up`, migrations applied, /healthz answers.

Needs a Docker engine; skipped with the reason where there is none (CI has none)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "closeloop-system-test"


def _docker_engine_missing() -> str | None:
    if shutil.which("docker") is None:
        return "no docker client on this machine"
    try:
        info = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except subprocess.TimeoutExpired:
        return "the Docker engine does not answer"
    if info.returncode != 0 or not info.stdout.strip():
        return "no Docker engine reachable (only the client is installed)"
    compose = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=20)
    if compose.returncode != 0:
        return "the docker compose plugin is not installed"
    return None


@pytest.fixture
def compose() -> Iterator[tuple[dict[str, str], int]]:
    missing = _docker_engine_missing()
    if missing:
        pytest.skip(f"container test skipped: {missing}")
    port = free_port()
    env = {**os.environ, "SECRET_KEY": "system-test-" + "k" * 40, "PORT": str(port)}
    base = ["docker", "compose", "-p", PROJECT, "-f", str(ROOT / "compose.yaml")]
    try:
        yield env, port
    finally:
        subprocess.run([*base, "down", "-v"], env=env, cwd=ROOT, capture_output=True, timeout=300)


def test_compose_up_runs_the_product_on_postgresql(compose: tuple[dict[str, str], int]) -> None:
    env, port = compose
    base = ["docker", "compose", "-p", PROJECT, "-f", str(ROOT / "compose.yaml")]
    up = subprocess.run(
        [*base, "up", "-d", "--build"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert up.returncode == 0, up.stderr[-2000:]
    answer = None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=3)
            if answer.status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(1)
    assert answer is not None and answer.json() == {"status": "ok", "database": "reachable"}
    # Migrations ran on start: the API answers (401 without a token) instead of failing on tables.
    assert httpx.get(f"http://127.0.0.1:{port}/api/v1/referrals", timeout=5).status_code == 401
    ps = subprocess.run(
        [*base, "ps", "--services", "--status", "running"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert set(ps.stdout.split()) == {"db", "web", "worker", "clock"}
    user = subprocess.run(
        [*base, "exec", "-T", "web", "id", "-u"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert user.stdout.strip() == "10001", "the image runs as a non-root user"
