"""SECRET_KEY at start-up: the development key refused beyond loopback, a generated key beside
the embedded database for `make run`, and the previous key accepted during a rotation."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.keys import MAKE_ONE, local_key_path, refuse_development_key, with_local_key
from bot.settings import DEV_SECRET, Settings, SettingsError, load_settings

NOWHERE = "postgresql://nobody@127.0.0.1:1/none"


def _cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "SECRET_KEY", "HOST", "PUBLIC_URL", "SECRET_KEY_PREVIOUS"}
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("process", ["web", "worker", "clock", "serve"])
@pytest.mark.parametrize(
    "where",
    [
        {"HOST": "0.0.0.0"},
        {"PUBLIC_URL": "https://closeloop.example.org"},
        {"PUBLIC_URL": "http://10.0.0.5:8000"},
        {"HOST": "::", "PUBLIC_URL": "http://127.0.0.1:8000"},
    ],
)
def test_the_development_key_is_refused_beyond_loopback_in_one_line(
    tmp_path: Path, process: str, where: dict[str, str]
) -> None:
    # No SECRET_KEY and a database with no file beside it: the development key would be used.
    result = _cli([process], tmp_path, DATABASE_URL=NOWHERE, **where)

    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("closeloop: setting SECRET_KEY: the development key is refused")
    assert MAKE_ONE in lines[0]


def test_an_explicit_development_key_on_an_embedded_database_is_replaced_by_its_own(
    tmp_path: Path,
) -> None:
    settings = with_local_key(
        Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", secret_key=DEV_SECRET, host="::")
    )
    assert settings.secret_key not in (DEV_SECRET, "")
    refuse_development_key(settings)


@pytest.mark.parametrize(
    ("host", "public_url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000"),
        ("localhost", "http://localhost:8000"),
        ("::1", "http://[::1]:8000"),
    ],
)
def test_the_development_key_serves_loopback_only(host: str, public_url: str) -> None:
    refuse_development_key(Settings(database_url=NOWHERE, host=host, public_url=public_url))


def test_a_real_key_serves_anywhere() -> None:
    refuse_development_key(
        Settings(
            database_url=NOWHERE,
            secret_key="a-real-key-0123456789-0123456789-abc",
            host="0.0.0.0",
            public_url="https://closeloop.example.org",
        )
    )


def test_make_run_generates_a_key_once_beside_the_embedded_database(tmp_path: Path) -> None:
    database = tmp_path / "data" / "closeloop.db"
    url = f"sqlite:///{database}"

    first = _cli(["migrate"], tmp_path, DATABASE_URL=url)
    assert first.returncode == 0, first.stderr
    key_file = database.with_name("closeloop.db.secret-key")
    key = key_file.read_text().strip()
    assert len(key) >= 40
    assert key != DEV_SECRET
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    second = _cli(["seed", "--if-empty"], tmp_path, DATABASE_URL=url)
    assert second.returncode == 0, second.stderr
    assert key_file.read_text().strip() == key

    settings = with_local_key(Settings(database_url=url, host="0.0.0.0"))
    assert settings.secret_key == key
    refuse_development_key(settings)  # a random key: a server may listen anywhere


def test_a_set_secret_key_makes_no_key_file(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'c.db'}", secret_key="set-by-the-operator-0123456789"
    )
    assert with_local_key(settings).secret_key == "set-by-the-operator-0123456789"
    path = local_key_path(settings)
    assert path is not None and not path.exists()


def test_a_damaged_key_file_stops_start_up_naming_secret_key(tmp_path: Path) -> None:
    database = tmp_path / "c.db"
    Path(f"{database}.secret-key").write_text("short\n")
    with pytest.raises(SettingsError, match=r"^setting SECRET_KEY: the key file c\.db\.secret-key"):
        with_local_key(Settings(database_url=f"sqlite:///{database}"))


def test_the_previous_key_is_for_verifying_and_may_not_be_a_placeholder() -> None:
    settings = Settings(
        database_url=NOWHERE, secret_key="new-key-0123456789", secret_key_previous="old-key-987654"
    )
    assert settings.verifying_keys == ("new-key-0123456789", "old-key-987654")
    assert Settings(database_url=NOWHERE, secret_key_previous="").verifying_keys == (DEV_SECRET,)
    for bad in ("changeme", DEV_SECRET):
        with pytest.raises(SettingsError, match=r"^setting SECRET_KEY_PREVIOUS: is a placeholder"):
            load_settings(database_url=NOWHERE, secret_key_previous=bad)
