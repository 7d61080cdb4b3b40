"""The vocabulary guard: mashing is unknown, real words (and one-letter typos of them) are known."""
from __future__ import annotations

import pytest

from carebot.nlu.vocabulary import Vocabulary

VOCABULARY = Vocabulary(["hello", "book", "appointment", "tomorrow", "thanks", "i", "need", "a", "doctor"])


@pytest.mark.parametrize("text", ["zxqv blorp fnarg", "asdfgh", "qqqq wwww", "xyzzy plugh"])
def test_keyboard_mashing_is_not_known(text):
    assert not VOCABULARY.knows_any(text)


@pytest.mark.parametrize("text", [
    "hello", "HELLO!!", "helo", "helllo", "hallo", "appointmnet tomorow", "2", "I need a doctor", "thanks xyzzy",
])
def test_known_words_and_one_letter_typos_are_known(text):
    assert VOCABULARY.knows_any(text)


def test_no_words_at_all_is_left_to_the_classifier():
    assert VOCABULARY.knows_any("👍")
    assert VOCABULARY.knows_any("?!")


def test_short_words_are_not_fuzzy_matched():
    assert not VOCABULARY.knows("bok")  # 3 letters: too short to call a typo of "book"
