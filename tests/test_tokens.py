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


def test_processes_starting_together_all_read_the_one_complete_secret(tmp_path):
    """The backend's workers and the actions server start at once: none may read a secret still being written."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    for attempt in range(30):
        path = tmp_path / f"secret_{attempt}"
        start = threading.Barrier(8)

        def read() -> str:
            start.wait()
            return tokens.stored_secret(path)

        with ThreadPoolExecutor(max_workers=8) as pool:
            read_by_each = list(pool.map(lambda _: read(), range(8)))
        assert len(set(read_by_each)) == 1 and len(read_by_each[0]) >= 32
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    secrets_only = sorted(f"secret_{n}" for n in range(30))  # no draft left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == secrets_only
