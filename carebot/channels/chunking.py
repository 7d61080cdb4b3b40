"""Split long replies into WhatsApp-sized messages without cutting sentences.

Twilio rejects bodies over 1,600 characters. Splitting on sentence ends (or line breaks) keeps every part readable;
only a single sentence longer than the limit is cut, at a word boundary when there is one.
"""

from __future__ import annotations

import re
from typing import List

TWILIO_BODY_LIMIT = 1600
# A boundary is the whitespace after ., ! or ? (optionally followed by a closing quote/bracket), or a line break.
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"'”’)\]]*[ \t]+|\n+")


def _units(text: str) -> List[str]:
    """Sentences/lines, each keeping its trailing separator so re-joining restores the text exactly."""
    units, start = [], 0
    for match in _BOUNDARY.finditer(text):
        units.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        units.append(text[start:])
    return units


def _split_oversized(unit: str, limit: int) -> List[str]:
    """Cut one over-long sentence at the last space before the limit (hard cut only when there is none)."""
    parts = []
    while len(unit) > limit:
        cut = unit.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
        parts.append(unit[:cut])
        unit = unit[cut:].lstrip(" ")
    parts.append(unit)
    return parts


def chunk_text(text: str, limit: int = TWILIO_BODY_LIMIT) -> List[str]:
    """Ordered parts of `text`, each at most `limit` characters, split on sentence boundaries where possible."""
    chunks: List[str] = []
    current = ""
    for unit in _units(text.strip()):
        for piece in _split_oversized(unit, limit) if len(unit) > limit else [unit]:
            if len((current + piece).rstrip()) <= limit:
                current += piece
                continue
            if current.strip():
                chunks.append(current.strip())
            current = piece
    if current.strip():
        chunks.append(current.strip())
    return chunks
