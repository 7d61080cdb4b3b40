"""Finding 4 (databases readable by everyone) and finding 9 (empty secrets accepted, Rasa's token in `ps`)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from carebot import launcher, tokens
from carebot.backend.db import make_engine
from carebot.channels.contacts import ContactStore
from carebot.handoff.auth import load_secret
from carebot.mode import ModeError, check_bind
from carebot.rasa_server import with_api_token


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_databases_are_owner_only_in_an_owner_only_folder(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    engine = make_engine(f"sqlite:///{var / 'carebot.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    ContactStore(f"sqlite:///{var / 'whatsapp.db'}").record_inbound("+447700900123")
    assert mode_of(var) == 0o700
    for name in ("carebot.db", "carebot.db-wal", "whatsapp.db"):
        assert mode_of(var / name) == 0o600, name
    engine.dispose()


def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    loose = tmp_path / "old.db"
    loose.touch(mode=0o644)
    loose.chmod(0o644)
    make_engine(f"sqlite:///{loose}").dispose()
    assert mode_of(loose) == 0o600


def test_an_empty_secret_file_is_never_a_key(tmp_path: Path) -> None:
    empty = tmp_path / "staff_session_secret"
    empty.write_text("\n")
    with pytest.raises(ModeError, match="empty"):
        load_secret({}, empty)
    with pytest.raises(ModeError, match="empty"):
        tokens.stored_secret(empty)


def test_production_refuses_short_secrets_and_binding_beyond_loopback_without_tls(monkeypatch) -> None:
    monkeypatch.setenv("CAREBOT_MODE", "production")
    monkeypatch.setenv("SCHEDULING_TOKEN", "short-token")
    with pytest.raises(ModeError, match="at least 32"):
        tokens.token(*tokens.SCHEDULING)
    with pytest.raises(ModeError, match="without TLS"):
        check_bind("Rasa", "0.0.0.0")
    check_bind("Rasa", "127.0.0.1")
    monkeypatch.setenv("CAREBOT_TLS_TERMINATED", "1")
    check_bind("Rasa", "0.0.0.0")


def test_rasas_api_token_is_not_on_any_command_line() -> None:
    env = {"RASA_API_TOKEN": "rasa-token-0123456789-abcdefghijklmnopqrstuvwxyz"}
    argv = [arg for service in launcher.services("python", env) for arg in service.argv]
    assert env["RASA_API_TOKEN"] not in argv
    rasa_argv = next(s.argv for s in launcher.services("python", env) if s.name == "rasa")
    assert with_api_token(["rasa", *rasa_argv[3:]], env)[-2:] == ["--auth-token", env["RASA_API_TOKEN"]]
