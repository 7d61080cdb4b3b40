"""Recognise the single-word opt-out / opt-in commands.

Twilio's automatic STOP handling covers SMS, not WhatsApp, so Carebot must honour them itself. Only a message that
is nothing but the keyword counts: "I want to stop my medication" is a clinical statement, not an opt-out.
"""

from __future__ import annotations

import re
from typing import Literal, Optional

OptCommand = Literal["stop", "start"]

STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe"})
START_WORDS = frozenset({"start", "unstop"})
# Punctuation, symbols and emoji around the word do not change its meaning ("Stop!", "*STOP*", "stop 🛑").
_DECORATION = re.compile(r"[\W_]+", re.UNICODE)


def opt_command(text: Optional[str]) -> Optional[OptCommand]:
    """'stop' / 'start' when the whole message is one of the keywords, else None."""
    if not text:
        return None
    words = [w for w in _DECORATION.split(text.casefold()) if w]
    if len(words) != 1:
        return None
    if words[0] in STOP_WORDS:
        return "stop"
    if words[0] in START_WORDS:
        return "start"
    return None
