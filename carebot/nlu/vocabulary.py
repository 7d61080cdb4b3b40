"""Does a message contain any word the bot was trained on? (Typos within one letter count as known.)

A linear intent classifier must pick some intent for every message, and keyboard mashing ("zxqv blorp") lands on
one with a confidence above any safe fallback threshold. A message none of whose words is known, even allowing a
typo, is out of scope whatever the classifier says.
"""
from __future__ import annotations

import re
from typing import Iterable, List, Set

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+")


def words(text: str) -> List[str]:
    return WORD.findall(text.lower())


def _deletions(word: str) -> Set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class Vocabulary:
    """Known words plus their one-letter deletions, so a lookup tolerates one dropped, added or changed letter."""

    MIN_FUZZY_LENGTH = 4

    def __init__(self, known: Iterable[str]) -> None:
        self.known = set(known)
        self._deleted = {d for w in self.known if len(w) >= self.MIN_FUZZY_LENGTH for d in _deletions(w)}

    def knows(self, word: str) -> bool:
        if word in self.known or word.isdigit():
            return True
        if len(word) < self.MIN_FUZZY_LENGTH:
            return False
        if word in self._deleted:  # a letter dropped: "helo"
            return True
        return any(d in self.known or d in self._deleted for d in _deletions(word))  # added or changed letter

    def knows_any(self, text: str) -> bool:
        """True when the text has no words at all (emoji, punctuation) — nothing to judge — or a known one."""
        found = words(text)
        return not found or any(self.knows(w) for w in found)
