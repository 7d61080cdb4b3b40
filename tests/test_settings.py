"""One settings module: typed values, clear errors, the renamed variables still read with a warning, and the table
in docs/operations.md equal to the one the code reads."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from carebot import settings, tokens
from carebot.settings import DeprecatedSetting, SettingsError

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_are_typed():
    config = settings.load({})
    assert config.backend_port == 8080 and config.reminder_poll_seconds == 5.0
    assert config.carebot_tls_terminated is False
    assert config.clinic_file == ROOT / "clinic.yml"
    assert settings.database_url(config) == f"sqlite:///{ROOT / 'var' / 'carebot.db'}"


def test_values_are_converted():
    config = settings.load(
        {
            "BACKEND_PORT": "9090",
            "CAREBOT_TLS_TERMINATED": "yes",
            "REMINDER_POLL_SECONDS": "0.5",
            "CLINIC_FILE": "/srv/clinic.yml",
            "CAREBOT_DATABASE_URL": "postgresql://db/carebot",
        }
    )
    assert (config.backend_port, config.carebot_tls_terminated, config.reminder_poll_seconds) == (
        9090,
        True,
        0.5,
    )
    assert config.clinic_file == Path("/srv/clinic.yml")
    assert settings.database_url(config) == "postgresql://db/carebot"


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"BACKEND_PORT": "80880"}, "BACKEND_PORT must be a whole number from 1 to 65535, not '80880'"),
        (
            {"ACTION_SERVER_PORT": "http"},
            "ACTION_SERVER_PORT must be a whole number from 1 to 65535, not 'http'",
        ),
        (
            {"STAFF_SESSION_MINUTES": "0"},
            "STAFF_SESSION_MINUTES must be a whole number (at least 1), not '0'",
        ),
        (
            {"REMINDER_POLL_SECONDS": "soon"},
            "REMINDER_POLL_SECONDS must be a positive number of seconds, not 'soon'",
        ),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'loud'"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_it_expects(environ, message):
    with pytest.raises(SettingsError) as raised:
        settings.load(environ)
    assert str(raised.value) == message


def test_a_process_with_a_bad_value_stops_with_the_message_not_a_traceback(monkeypatch):
    monkeypatch.setenv("BACKEND_PORT", "eighty")
    with pytest.raises(SystemExit) as raised:
        settings.at_start("backend")
    assert (
        str(raised.value.code)
        == "backend: cannot start: BACKEND_PORT must be a whole number from 1 to 65535, not 'eighty'"
    )


def test_the_old_backend_names_are_still_read_with_a_deprecation_warning(caplog):
    environ = {"SCHEDULING_TOKEN": "old-token-value", "SCHEDULING_DATABASE_URL": "sqlite:///old.db"}
    with pytest.warns(DeprecatedSetting) as warned, caplog.at_level(logging.WARNING, "carebot.settings"):
        config = settings.load(environ)
    assert config.carebot_backend_token == "old-token-value"
    assert config.carebot_database_url == "sqlite:///old.db"
    assert config.value_of("SCHEDULING_TOKEN") == "old-token-value"
    assert sorted(str(w.message) for w in warned) == [
        "SCHEDULING_DATABASE_URL is deprecated: set CAREBOT_DATABASE_URL instead (the value of SCHEDULING_DATABASE_URL "
        "is used for now)",
        "SCHEDULING_TOKEN is deprecated: set CAREBOT_BACKEND_TOKEN instead (the value of SCHEDULING_TOKEN is used "
        "for now)",
    ]
    assert len(caplog.records) == 2


def test_the_new_name_wins_over_the_old_one_without_a_warning(recwarn):
    config = settings.load({"CAREBOT_BACKEND_TOKEN": "new", "SCHEDULING_TOKEN": "old"})
    assert config.carebot_backend_token == "new"
    assert not [w for w in recwarn if issubclass(w.category, DeprecatedSetting)]


def test_the_backend_token_is_read_under_its_new_name(monkeypatch):
    monkeypatch.delenv("SCHEDULING_TOKEN", raising=False)
    monkeypatch.setenv("CAREBOT_BACKEND_TOKEN", "  from-new-name ")
    assert tokens.SCHEDULING[0] == "CAREBOT_BACKEND_TOKEN"
    assert tokens.token(*tokens.SCHEDULING) == "from-new-name"


def test_the_operations_guide_shows_every_variable_with_its_default():
    guide = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert settings.markdown_table() in guide
