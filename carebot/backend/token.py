"""The bearer token shared by the backend and its clients: `SCHEDULING_TOKEN`, else `var/scheduling_token`.

The file is created once (mode 0600) so a local `make run` needs no setup yet the health data is never open.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Optional

TOKEN_FILE = Path(__file__).resolve().parents[2] / "var" / "scheduling_token"


def read_token(path: Path = TOKEN_FILE) -> Optional[str]:
    """The configured token, or None if neither the variable nor the file exists."""
    token = os.environ.get("SCHEDULING_TOKEN", "").strip()
    if token:
        return token
    if path.exists():
        return path.read_text(encoding="utf-8").strip() or None
    return None


def load_or_create_token(path: Path = TOKEN_FILE) -> str:
    token = read_token(path)
    if token:
        return token
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token
