"""Rasa's whitespace tokenizer, reading the emoji patients answer with as the words they stand for.

Rasa's tokenizer drops emoji, so "👍", "🙏" and "😊" all reached the classifier as the same empty message. Here each
emoji listed in config.yml (`emoji_words`) becomes a token with its word ("👍" → "ok", "🙏" → "thanks") at the emoji's
place in the text; the message text itself is untouched. Skin tones and the emoji variation selector are ignored.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

_DECORATION = "[\U0001F3FB-\U0001F3FF\uFE0F]*"  # skin tones, emoji presentation selector


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class EmojiWordTokenizer(WhitespaceTokenizer):
    """Whitespace tokens plus one word token per known emoji."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**WhitespaceTokenizer.get_default_config(), "emoji_words": {}}

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        emoji_words = {emoji.replace("\uFE0F", ""): str(word) for emoji, word in (config.get("emoji_words") or {}).items()}
        self._emoji_words = emoji_words
        alternatives = "|".join(re.escape(e) for e in sorted(emoji_words, key=len, reverse=True))
        self._emoji = re.compile(f"({alternatives}){_DECORATION}") if emoji_words else None

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "EmojiWordTokenizer":
        return cls(config)

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        tokens = super().tokenize(message, attribute)
        text = message.get(attribute) or ""
        if attribute != TEXT or self._emoji is None:
            return tokens
        found = [(m.start(), m.end(), self._emoji_words[m.group(1)]) for m in self._emoji.finditer(text)]
        if not found:
            return tokens
        # Rasa keeps a message made only of emoji as one token of the whole text: the words replace it.
        kept = [t for t in tokens if not any(t.start < end and start < t.end for start, end, _ in found)]
        return sorted(kept + [Token(word, start, end) for start, end, word in found], key=lambda t: t.start)
