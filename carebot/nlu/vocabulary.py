"""Does a message contain any word the bot was trained on? (Typos within one letter count as known.)

A linear intent classifier must pick some intent for every message, and keyboard mashing ("zxqv blorp") lands on
one with a confidence above any safe fallback threshold. A message none of whose words is known, even allowing a
typo, is out of scope whatever the classifier says. The guards pass the words the tokenizer read (text-speak and
clitics already resolved, carebot/nlu/tokenizer.py); `words` splits plain text the same simple way for the rest.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Dict, Iterable, List, Mapping, Sequence, Set

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+")


Words = Sequence[str]  # one text's words, in order


def words(text: str) -> List[str]:
    return WORD.findall(text.lower())


def vocabulary_of(texts: Iterable[Words]) -> List[str]:
    """Every word of the texts, sorted: what a guard stores of its training examples."""
    return sorted({w for text in texts for w in text})


def phrases_of(texts: Iterable[Words]) -> Set[str]:
    """Every run of consecutive words of the texts, space-joined: "boil an egg" gives "boil", "boil an", …"""
    found: Set[str] = set()
    for found_words in texts:
        found.update(
            " ".join(found_words[i:j])
            for i in range(len(found_words))
            for j in range(i + 1, len(found_words) + 1)
        )
    return found


def _deletions(word: str) -> Set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class Vocabulary:
    """Known words plus their one-letter deletions, so a lookup tolerates one dropped, added or changed letter."""

    MIN_FUZZY_LENGTH = 4

    def __init__(self, known: Iterable[str], min_fuzzy_length: int = MIN_FUZZY_LENGTH) -> None:
        self.known = set(known)
        self.min_fuzzy_length = min_fuzzy_length
        self._deleted = {d for w in self.known if len(w) >= min_fuzzy_length for d in _deletions(w)}

    def knows(self, word: str) -> bool:
        if word in self.known or word.isdigit():
            return True
        if len(word) < self.min_fuzzy_length:
            return False
        if word in self._deleted:  # a letter dropped: "helo"
            return True
        return any(d in self.known or d in self._deleted for d in _deletions(word))  # added or changed letter

    def knows_any(self, found: Words) -> bool:
        """True when one of the words is known. A message of no words at all ("?", "🤷", "...") is not understood
        either: the classifier would guess from nothing (it read "?" as "yes"). Emoji the tokenizer knows reach here
        as their words ("👍" → "ok")."""
        return any(self.knows(w) for w in found)


def distinctive_words(
    examples_by_intent: Mapping[str, Sequence[Words]], background: Sequence[Words], min_ratio: float
) -> Dict[str, List[str]]:
    """Each intent's words that are at least `min_ratio` times more frequent in its examples than in `background`.

    Frequencies are the share of examples containing the word, add-half smoothed so a word never seen in the
    background is not infinitely distinctive on one example. "pain" or "prescription" survive for the clinic
    intents; "how", "my" or "need", which the out-of-scope examples use as often, do not.
    """

    def shares(texts: Sequence[Words]) -> Counter:
        return Counter(w for text in texts for w in set(text))

    in_background = shares(background)
    background_size = len(background) + 1
    result: Dict[str, List[str]] = {}
    for intent, texts in examples_by_intent.items():
        size = len(texts) + 1
        result[intent] = sorted(
            w
            for w, count in shares(texts).items()
            if (count + 0.5) / size >= min_ratio * (in_background[w] + 0.5) / background_size
        )
    return result
