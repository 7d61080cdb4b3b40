"""API tokens for the local services: from the environment, else generated once into `var/` (mode 0600).

Every API in Carebot carries health data, so none runs without a token, even on a developer's laptop.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

VAR_DIR = Path(os.environ.get("CAREBOT_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))


def token(env_name: str, file_name: str) -> str:
    """The token in `env_name`, else the one stored in var/`file_name`, else a new one written there."""
    value = os.environ.get(env_name, "").strip()
    if value:
        return value
    path = VAR_DIR / file_name
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return value


if __name__ == "__main__":
    import sys

    print(token(sys.argv[1], sys.argv[2]))
