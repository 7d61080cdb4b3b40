"""The vocabulary guard: mashing is unknown, real words (and one-letter typos of them) are known."""

from __future__ import annotations

import pytest

from carebot.nlu.vocabulary import Vocabulary, phrases_of, vocabulary_of, words

VOCABULARY = Vocabulary(["hello", "book", "appointment", "tomorrow", "thanks", "i", "need", "a", "doctor"])


@pytest.mark.parametrize("text", ["zxqv blorp fnarg", "asdfgh", "qqqq wwww", "xyzzy plugh"])
def test_keyboard_mashing_is_not_known(text):
    assert not VOCABULARY.knows_any(words(text))


@pytest.mark.parametrize(
    "text",
    [
        "hello",
        "HELLO!!",
        "helo",
        "helllo",
        "hallo",
        "appointmnet tomorow",
        "2",
        "I need a doctor",
        "thanks xyzzy",
    ],
)
def test_known_words_and_one_letter_typos_are_known(text):
    assert VOCABULARY.knows_any(words(text))


@pytest.mark.parametrize("text", ["?", "?!", "...", "🤷", "🎉🎉", ""])
def test_no_words_at_all_is_not_understood(text):
    # The classifier would guess from nothing: "?" came out as "yes" (affirm 0.40), which at "Shall I book it?" or
    # at the consent question is an answer the patient never gave. Known emoji reach the guard as their words.
    assert not VOCABULARY.knows_any(words(text))


def test_short_words_are_not_fuzzy_matched():
    assert not VOCABULARY.knows("bok")  # 3 letters: too short to call a typo of "book"


def test_the_vocabulary_and_phrases_of_texts_are_whole_words_in_order():
    assert vocabulary_of([words("Boil an egg"), words("an egg!")]) == ["an", "boil", "egg"]
    phrases = phrases_of([words("how long do I boil an egg"), words("the boiler")])
    assert {"boil", "boil an egg", "how long do i boil an egg", "boiler"} <= phrases
    assert not {"boil egg", "oil", "", "egg an"} & phrases
