"""The one phone-number normaliser and mask, shared by the channel, the backend, the actions and the logs.

Twilio addresses WhatsApp users as `whatsapp:+447700900123`; everything else in Carebot (conversation ids, the
opt-out table, the backend) uses the bare E.164 number, so conversions live in one place.
"""

from __future__ import annotations

import re
from typing import Optional

WHATSAPP_PREFIX = "whatsapp:"
_NOT_DIGIT = re.compile(r"[^\d]")


def normalize_phone(address: str) -> str:
    """`whatsapp:+44 7700 900123` → `+447700900123` (the form used as conversation id and storage key)."""
    bare = address.strip()
    if bare.lower().startswith(WHATSAPP_PREFIX):
        bare = bare[len(WHATSAPP_PREFIX) :]
    digits = _NOT_DIGIT.sub("", bare)
    return f"+{digits}" if digits else ""


def whatsapp_address(phone: str) -> str:
    """The `To`/`From` form Twilio expects for WhatsApp."""
    return f"{WHATSAPP_PREFIX}{normalize_phone(phone)}"


def mask_phone(address: Optional[str]) -> str:
    """Keep only the last 4 digits, so logs can correlate a conversation without exposing the patient."""
    if not address:
        return "<none>"
    digits = _NOT_DIGIT.sub("", address)
    return f"…{digits[-4:]}" if len(digits) > 4 else "…"
