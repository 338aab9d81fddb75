"""Day one at the command line: --host/--port, PUBLIC_URL following them, `job --at`, the
Slack manifest, and one-line answers to an admin's first mistakes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from bot.settings import Settings
from tests.servers import free_port
from tests.system.test_app_and_cli import _cli


def test_public_url_follows_host_and_port_unless_set() -> None:
    assert Settings(port=9123).public_url == "http://127.0.0.1:9123"
    assert Settings(host="0.0.0.0", port=80).public_url == "http://127.0.0.1:80"
    assert Settings(host="10.1.2.3").public_url == "http://10.1.2.3:8000"
    assert Settings(port=9123, public_url="https://cl.example.org").public_url == (
        "https://cl.example.org"
    )


def test_web_listens_on_the_port_given_on_the_command_line(tmp_path: Path) -> None:
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "PORT", "HOST"}}
    env = {**clean, "DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}", "PORT": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "web", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        answer = None
        deadline = time.monotonic() + 60
        while answer is None and time.monotonic() < deadline and process.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            except httpx.TransportError:
                time.sleep(0.2)
        assert answer is not None, process.stderr.read() if process.stderr else ""
        assert answer.json() == {"status": "ok", "database": "reachable"}
    finally:
        process.terminate()
        process.wait(timeout=20)
        if process.stderr:
            process.stderr.close()


def test_a_job_runs_as_of_a_given_time(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'j.db'}"}
    assert _cli(["migrate"], tmp_path, **env).returncode == 0
    ran = _cli(["job", "coordinator_digests", "--at", "2027-11-30T06:00"], tmp_path, **env)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().splitlines()[-1] == (
        "closeloop: coordinator_digests as of 2027-11-30 06:00 CST wrote 0 notification(s)"
    )
    bad = _cli(["job", "coordinator_digests", "--at", "next tuesday"], tmp_path, **env)
    assert bad.returncode == 1
    assert bad.stderr.strip() == (
        "closeloop: --at 'next tuesday' is not a date and time (e.g. 2027-11-30T06:00)"
    )


def test_the_slack_manifest_is_printed_for_the_admins_host(tmp_path: Path) -> None:
    printed = _cli(["slack", "manifest", "--url", "https://cl.example.org/"], tmp_path)
    assert printed.returncode == 0, printed.stderr
    data = yaml.safe_load(printed.stdout)
    endpoint = "https://cl.example.org/slack/events"
    assert data["features"]["slash_commands"][0]["url"] == endpoint
    assert data["settings"]["interactivity"]["request_url"] == endpoint
    assert data["settings"]["event_subscriptions"]["request_url"] == endpoint
    refused = _cli(["slack", "manifest", "--url", "cl.example.org"], tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "closeloop: --url: 'cl.example.org' is not an address like https://closeloop.example.org"
    )
