"""Encryption of tracker-store event data (Fernet, key from the environment): used by the tracker store Rasa runs
(carebot/privacy/tracker_store.py) and by the export, which reads conversations without Rasa."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from typing import Any, Dict

from cryptography.fernet import Fernet

from carebot import tokens

TRACKER_KEY = ("TRACKER_ENCRYPTION_KEY", "tracker_key")
FERNET_PREFIX = "gAAAAA"  # every Fernet token starts with its version byte and timestamp: base64 "gAAAAA…"


@functools.lru_cache(maxsize=1)
def cipher() -> Fernet:
    """Fernet over SHA-256 of the configured secret, so any secret of the usual form makes a valid key."""
    secret = tokens.token(*TRACKER_KEY).encode()
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret).digest()))


def seal(data: Dict[str, Any]) -> str:
    return cipher().encrypt(json.dumps(data).encode()).decode()


def event_data(stored: str) -> Dict[str, Any]:
    """An event's dict from its stored form: decrypted, or plain JSON written before encryption."""
    if stored.startswith(FERNET_PREFIX):
        return json.loads(cipher().decrypt(stored.encode()))
    return json.loads(stored)
