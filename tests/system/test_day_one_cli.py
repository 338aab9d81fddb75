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


def test_an_admins_first_mistakes_get_one_line_each(tmp_path: Path) -> None:
    unreachable = _cli(["migrate"], tmp_path, DATABASE_URL="postgresql://nobody:pw@127.0.0.1:1/x")
    assert unreachable.returncode == 2
    assert unreachable.stderr.startswith(
        "closeloop: cannot use the database at postgresql://nobody:***@127.0.0.1:1/x "
        "(DATABASE_URL): connection failed:"
    )
    assert len(unreachable.stderr.strip().splitlines()) == 1
    # A folder where the database file should be: SQLite cannot open it.
    (tmp_path / "folder.db").mkdir()
    folder = _cli(["migrate"], tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'folder.db'}")
    assert folder.stderr.strip() == (
        f"closeloop: cannot use the database at sqlite:///{tmp_path / 'folder.db'} "
        "(DATABASE_URL): unable to open database file"
    )
    db = {"DATABASE_URL": f"sqlite:///{tmp_path / 'e.db'}"}
    unmigrated = _cli(["digest", "--channel", "C1"], tmp_path, **db)
    assert unmigrated.stderr.strip() == (
        f"closeloop: the database at sqlite:///{tmp_path / 'e.db'} has no closeloop tables "
        "yet: run `closeloop migrate`"
    )
    files = {
        "bom.json": b'\xef\xbb\xbf{"agencies": []}',
        "latin.yaml": b"agencies:\n  - name: Caf\xe9\n",
        "empty.yaml": b"  \n",
        "bad.yaml": b"agencies:\n  - key: a\n   name: b\n",
        "bad.json": b'{"agencies": }',
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    said = {
        name: _cli(["directory", "import", name], tmp_path, **db).stderr.strip()
        for name in [*files, "missing.yaml"]
    }
    assert said == {
        "bom.json": "closeloop: bom.json: starts with a byte order mark (BOM); save it as UTF-8 without BOM.",
        "latin.yaml": "closeloop: latin.yaml: is not UTF-8 text (byte 0xe9 on line 2); save it as UTF-8.",
        "empty.yaml": "closeloop: empty.yaml: is empty; a directory file needs agencies.",
        "bad.yaml": "closeloop: bad.yaml: not valid YAML at line 3, column 4: expected <block end>, but found '<block mapping start>'.",
        "bad.json": "closeloop: bad.json: not valid JSON at line 1, column 14: Expecting value.",
        "missing.yaml": "closeloop: missing.yaml: cannot be read (No such file or directory).",
    }


def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (`| head`) has already gone: the first write fails
    clean = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "slack", "manifest", "--url", "https://x.org"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env={**clean, "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"},
            cwd=tmp_path,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (0, "")
