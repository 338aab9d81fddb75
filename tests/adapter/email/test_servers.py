"""The test servers themselves: a missing server skips locally and fails in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers.dovecot import start_dovecot


def test_missing_dovecot_skips_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(pytest.skip.Exception) as caught:
        start_dovecot()

    assert str(caught.value) == "install Dovecot: apt-get install dovecot-imapd"


def test_missing_dovecot_fails_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception) as caught:
        start_dovecot()

    assert str(caught.value) == (
        "install Dovecot: apt-get install dovecot-imapd (CI=true, so this is not skipped)"
    )
