"""API tokens: the environment wins, else one token per installation, created once, readable by its owner only."""

from __future__ import annotations

import os
import stat

from carebot import tokens


def test_a_token_is_generated_once_with_owner_only_permissions(tmp_path, monkeypatch):
    monkeypatch.setenv("CAREBOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("SCHEDULING_TOKEN", raising=False)
    first = tokens.token(*tokens.SCHEDULING)
    path = tmp_path / "var" / "scheduling_token"
    assert len(first) >= 32 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert tokens.token(*tokens.SCHEDULING) == first
    assert tokens.token(*tokens.RASA_API) != first  # each API has its own


def test_the_environment_overrides_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CAREBOT_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("SCHEDULING_TOKEN", "  from-env ")
    assert tokens.token(*tokens.SCHEDULING) == "from-env"
    assert not (tmp_path / "scheduling_token").exists()
