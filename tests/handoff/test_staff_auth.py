"""Staff accounts and sessions: hashes, the account list formats, the CLI, session expiry and tampering."""

import datetime as dt
import io
import stat

import pytest

from carebot.handoff import __main__ as cli
from carebot.handoff.auth import (
    StaffAuth,
    StaffConfigError,
    add_account,
    hash_password,
    load_accounts,
    load_secret,
    parse_accounts,
    session_minutes,
    verify_password,
)

NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.timezone.utc)


def test_hash_round_trip_and_salted():
    encoded = hash_password("correct horse", iterations=1000)
    assert encoded.startswith("pbkdf2_sha256$1000$") and ":" not in encoded and "," not in encoded
    assert verify_password("correct horse", encoded)
    assert not verify_password("correct horsE", encoded)
    assert hash_password("correct horse", iterations=1000) != encoded
    assert not verify_password("x", "md5$1$abc$def") and not verify_password("x", "garbage")


def test_accounts_from_env_take_precedence_over_the_file(tmp_path):
    file = tmp_path / "staff_accounts"
    add_account("carol", "carol-password", file)
    env_value = f"alice:{hash_password('a', iterations=1000)},bob:{hash_password('b', iterations=1000)}"
    assert sorted(load_accounts({"STAFF_ACCOUNTS": env_value, "STAFF_ACCOUNTS_FILE": str(file)})) == [
        "alice",
        "bob",
    ]
    assert sorted(load_accounts({"STAFF_ACCOUNTS_FILE": str(file)})) == ["carol"]
    assert load_accounts({"STAFF_ACCOUNTS_FILE": str(tmp_path / "none")}) == {}


def test_a_malformed_entry_names_its_place():
    with pytest.raises(StaffConfigError, match="STAFF_ACCOUNTS: entry 2 is not 'name:pbkdf2_sha256"):
        parse_accounts(f"alice:{hash_password('a', iterations=1000)},bob:plaintext", "STAFF_ACCOUNTS")


def test_cli_add_staff_writes_an_owner_only_hash(tmp_path, monkeypatch, capsys):
    file = tmp_path / "staff_accounts"
    monkeypatch.setenv("STAFF_ACCOUNTS_FILE", str(file))
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    assert cli.main(["add-staff", "dana"]) == 0
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    accounts = load_accounts({"STAFF_ACCOUNTS_FILE": str(file)})
    assert verify_password("a-long-password", accounts["dana"])
    assert "a-long-password" not in file.read_text()
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["add-staff", "erin"]) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    assert cli.main(["add-staff", "bad name!"]) == 2


def test_sessions_expire_and_resist_tampering():
    auth = StaffAuth({"alice": hash_password("pw", iterations=1000)}, b"secret", minutes=60)
    session = auth.issue("alice", NOW)
    assert auth.validate(session.token, NOW + dt.timedelta(minutes=59)).staff == "alice"
    assert auth.validate(session.token, NOW + dt.timedelta(minutes=60)) is None
    name, expiry, signature = session.token.split("|")
    assert auth.validate(f"bob|{expiry}|{signature}", NOW) is None
    assert auth.validate(f"alice|{int(expiry) + 3600}|{signature}", NOW) is None
    assert StaffAuth({}, b"secret").validate(session.token, NOW) is None  # account removed
    assert auth.validate("nonsense", NOW) is None and auth.validate(None, NOW) is None


def test_csrf_tokens_are_bound_to_the_session():
    auth = StaffAuth({}, b"secret")
    assert auth.check_csrf("session-a", auth.csrf_token("session-a"))
    assert not auth.check_csrf("session-b", auth.csrf_token("session-a"))
    assert not auth.check_csrf("session-a", None)


def test_secret_and_minutes_from_env_or_var(tmp_path):
    secret_file = tmp_path / "secret"
    generated = load_secret({}, secret_file)
    assert len(generated) >= 32 and load_secret({}, secret_file) == generated
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert load_secret({"STAFF_SESSION_SECRET": "x"}, secret_file) == b"x"
    assert session_minutes({}) == 60 and session_minutes({"STAFF_SESSION_MINUTES": "15"}) == 15
    with pytest.raises(StaffConfigError, match="STAFF_SESSION_MINUTES must be a whole number"):
        session_minutes({"STAFF_SESSION_MINUTES": "soon"})
