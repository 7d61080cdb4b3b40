"""The tokenizer reads emoji, text-speak and contractions as the words they stand for; the text stays as written."""

from __future__ import annotations

from typing import List

import pytest
from rasa.shared.nlu.training_data.message import Message

from carebot.nlu.tokenizer import EmojiWordTokenizer

TOKENIZER = EmojiWordTokenizer(
    {
        **EmojiWordTokenizer.get_default_config(),
        "emoji_words": {"👍": "ok"},
        "word_forms": {"ur": "your", "whats": "what is", "u": "you", "appt": "appointment"},
    }
)


def tokens(text: str) -> List[str]:
    message = Message(data={"text": text})
    found = [token.text for token in TOKENIZER.tokenize(message, "text")]
    assert message.get("text") == text
    return found


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "what is the clinic's address?",
            ["what", "is", "the", "clinic", "address"],
        ),  # a possessive is its noun
        ("what’s the surgery’s postcode", ["what", "the", "surgery", "postcode"]),  # curly apostrophes too
        ("whats ur address", ["what", "is", "your", "address"]),
        ("can u move my appt", ["can", "you", "move", "my", "appointment"]),
        (
            "I don't know, I'm here",
            ["I", "do", "not", "know", "i", "am", "here"],
        ),  # a clitic's words: lower case
        ("we won't come, we can't", ["we", "will", "not", "come", "we", "can", "not"]),
        ("you're late, they've gone", ["you", "are", "late", "they", "have", "gone"]),
        ("nooo", ["no"]),  # a word stretched for feeling is the word
        ("hiiii there", ["hi", "there"]),
        ("thanksss soooo much", ["thanks", "so", "much"]),
        ("whatsss ur address", ["what", "is", "your", "address"]),  # then read as text-speak
        ("see you tomorrow", ["see", "you", "tomorrow"]),  # two of a letter is spelling, not stretching
    ],
)
def test_contractions_possessives_and_text_speak_become_words(text, expected):
    assert tokens(text) == expected


def test_emoji_become_their_words_and_unknown_emoji_stay_as_rasa_left_them():
    assert tokens("it's fine 👍") == ["it", "fine", "ok"]
    assert tokens("🐸") == ["🐸"]


def test_each_word_keeps_the_place_of_what_it_stands_for():
    message = Message(data={"text": "whats ur address"})
    assert [(t.text, t.start, t.end) for t in TOKENIZER.tokenize(message, "text")] == [
        ("what", 0, 5),
        ("is", 0, 5),
        ("your", 6, 8),
        ("address", 9, 16),
    ]
