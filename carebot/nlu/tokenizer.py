"""Rasa's whitespace tokenizer, reading emoji, text-speak and contractions as the words they stand for.

Rasa's tokenizer drops emoji, so "👍", "🙏" and "😊" all reached the classifier as the same empty message. Here each
emoji listed in config.yml (`emoji_words`) becomes a token with its word ("👍" → "ok", "🙏" → "thanks") at the emoji's
place in the text. Text-speak listed in `word_forms` ("ur" → "your", "whats" → "what is") becomes its words, and a
clitic becomes the word it stands for ("don't" → "do not", "we're" → "we are") or, for "'s" ("the clinic's address",
"what's"), nothing: Rasa would otherwise leave a stray "s" or "t" token, and the guards (carebot/nlu/guard.py) read
these tokens, so "clinic's" is the known word "clinic", not an unknown one. The message text itself is untouched.
A word stretched for feeling ("nooo", "hiiii", "yesss", "pleeease") is read with each stretched letter once ("no",
"hi", "yes", "please"), then as text-speak if it is listed. Skin tones and the emoji variation selector are ignored.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Text, Tuple

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

_DECORATION = "[\U0001f3fb-\U0001f3ff\ufe0f]*"  # skin tones, emoji presentation selector
# A word with its clitic ("clinic's", "don't", "can’t"); curly apostrophes are read as straight ones.
_CLITIC = re.compile(r"\b([a-z]+)['’](s|t|re|m|ll|ve|d)\b", re.IGNORECASE)
# What each clitic stands for ("" = nothing the meaning needs); "n't" is handled with its verb.
_CLITIC_WORDS = {"s": "", "re": "are", "m": "am", "ll": "will", "ve": "have", "d": "would"}
_NOT_STEMS = {
    "won": "will",
    "can": "can",
    "shan": "shall",
    "ain": "is",
}  # "won't" → "will not"; else "don't" → "do"

# Three or more of one letter: no English word has them, so they are a word stretched for feeling.
_STRETCHED = re.compile(r"([a-z])\1{2,}", re.IGNORECASE)

Span = Tuple[int, int, Text]  # start, end, the words read there


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class EmojiWordTokenizer(WhitespaceTokenizer):
    """Whitespace tokens, with known emoji, text-speak and clitics replaced by the words they stand for."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**WhitespaceTokenizer.get_default_config(), "emoji_words": {}, "word_forms": {}}

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        emoji_words = {
            emoji.replace("\ufe0f", ""): str(word)
            for emoji, word in (config.get("emoji_words") or {}).items()
        }
        self._emoji_words = emoji_words
        alternatives = "|".join(re.escape(e) for e in sorted(emoji_words, key=len, reverse=True))
        self._emoji = re.compile(f"({alternatives}){_DECORATION}") if emoji_words else None
        self._word_forms = {
            str(form).lower(): str(words).lower() for form, words in (config.get("word_forms") or {}).items()
        }

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "EmojiWordTokenizer":
        return cls(config)

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        tokens = super().tokenize(message, attribute)
        text = message.get(attribute) or ""
        if attribute != TEXT:
            return tokens
        read = self._emoji_spans(text) + self._clitic_spans(text)
        kept = [t for t in tokens if not any(t.start < end and start < t.end for start, end, _ in read)]
        kept = [token for t in kept for token in self._word_form(t)]
        words = [Token(word, start, end) for start, end, said in read for word in said.split()]
        if not kept and not words:
            return tokens  # only punctuation or unknown emoji: Rasa's own token of the whole text
        return sorted(kept + words, key=lambda t: t.start)

    def _emoji_spans(self, text: Text) -> List[Span]:
        if self._emoji is None:
            return []
        return [(m.start(), m.end(), self._emoji_words[m.group(1)]) for m in self._emoji.finditer(text)]

    def _clitic_spans(self, text: Text) -> List[Span]:
        spans = []
        for match in _CLITIC.finditer(text):
            word, clitic = match.group(1).lower(), match.group(2).lower()
            if clitic == "t" and word.endswith("n"):  # "don't", "can't", "won't"
                said = f"{_NOT_STEMS.get(word, word[:-1])} not"
            else:
                said = f"{self._word_forms.get(word, word)} {_CLITIC_WORDS.get(clitic, '')}"
            spans.append((match.start(), match.end(), said))
        return spans

    def _word_form(self, token: Token) -> List[Token]:
        """The token, or the words its text-speak form stands for, each spanning the original token."""
        word = token.text.lower()
        unstretched = _STRETCHED.sub(r"\1", word)
        words = self._word_forms.get(unstretched, unstretched if unstretched != word else None)
        if words is None:
            return [token]
        return [Token(word, token.start, token.end) for word in words.split()]
