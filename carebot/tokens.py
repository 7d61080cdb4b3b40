"""API tokens for the local services: from the environment, else generated once into `var/` (mode 0600).

Every API in Carebot carries health data, so none runs without a token, even on a developer's laptop. Every
process of one installation (launcher, backend, actions, dispatcher, clients) reads tokens through here, so they
always agree. An empty or (in production) short secret is refused, never used as a key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from carebot import settings
from carebot.mode import check_secret

# (variable, file in var/): the backend's token keeps its file name; its variable was CAREBOT_BACKEND_TOKEN.
SCHEDULING = ("CAREBOT_BACKEND_TOKEN", "scheduling_token")
RASA_API = ("RASA_API_TOKEN", "rasa_token")
ACTION_SERVER = ("ACTION_SERVER_TOKEN", "action_token")
# Least privilege on the backend (carebot/server/app.py): the WhatsApp channel may only append to handoff cases.
HANDOFF_CHANNEL = ("HANDOFF_CHANNEL_TOKEN", "channel_token")
# Least privilege on Rasa (carebot/rasa_server.py): the reminder dispatcher may only trigger an intent.
REMINDER_DISPATCH = ("REMINDER_DISPATCH_TOKEN", "dispatch_token")
# The designers' simulator page (make simulate, development mode only).
SIMULATOR = ("SIMULATOR_TOKEN", "simulator_token")
# Signs reminder occurrence keys (carebot/reminders/store.py) so they cannot be guessed from an id and a time.
REMINDER_KEYS = ("REMINDER_KEY_SECRET", "reminder_key_secret")


def var_dir() -> Path:
    """Where local state lives: `CAREBOT_VAR_DIR`, else `var/` in the project."""
    return settings.current().carebot_var_dir


def token(env_name: str, file_name: str) -> str:
    """The token in `env_name`, else the one stored in var/`file_name`, else a new one written there."""
    value = settings.current().value_of(env_name)
    return check_secret(env_name, value) if value else stored_secret(var_dir() / file_name)


def stored_secret(path: Path) -> str:
    """The random secret kept in `path`, written (owner-only) by the first process that needs it.

    The secret is written to a file of its own first and linked into place whole: a process starting at the same
    moment finds no file or a complete one, never the empty file another is still writing."""
    if not path.exists():
        secure_dir(path.parent)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(32))
        try:
            os.link(draft, path)
        except FileExistsError:  # another process of this installation wrote it first: use theirs
            pass
        finally:
            draft.unlink()
    return check_secret(str(path), path.read_text(encoding="utf-8"))


def secure_dir(path: Path) -> Path:
    """Create `path` owner-only (0700), tightening it if it exists: var/ holds health data and keys."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def secure_sqlite_file(path: Path) -> None:
    """Create a SQLite database file owner-only (0600) in an owner-only folder before SQLite opens it; SQLite
    gives its -wal and -shm companions the database's own mode. An existing, looser file is tightened."""
    secure_dir(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if candidate.exists():
            candidate.chmod(0o600)


if __name__ == "__main__":
    import sys

    print(token(sys.argv[1], sys.argv[2]))
