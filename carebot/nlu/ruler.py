"""spaCy's EntityRuler with its token patterns indexed by a word each must contain.

spaCy's Matcher tries every token pattern at every token: with about a thousand patterns, most of them opening
on a `{"NORM": {"IN": [...]}}` set, that was 2.6 ms of a case-file message's 4.3 ms of findings (bench
`triage_nlu`). A pattern can only match a message holding one of the words of its most selective required token,
so each pattern is kept in a small Matcher per such word, and a message runs only the Matchers of the words it
has. The matches, and so the entities, are exactly the EntityRuler's (tests/nlu/test_ruler.py).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Set, Tuple

from spacy.language import Language
from spacy.matcher import Matcher
from spacy.pipeline import EntityRuler
from spacy.tokens import Doc

MatchTriple = Tuple[int, int, int]
REQUIRED_OPS = (None, "1", "+")  # a token with one of these operators is in every match of its pattern


def anchor_words(pattern: List[Dict[str, Any]]) -> Optional[Set[str]]:
    """The smallest set of NORM values one of the pattern's required tokens must take; None if no token says."""
    best: Optional[Set[str]] = None
    for token in pattern:
        if token.get("OP") not in REQUIRED_OPS:
            continue
        norm = token.get("NORM")
        if isinstance(norm, str):
            words: Optional[Set[str]] = {norm}
        elif isinstance(norm, dict) and set(norm) == {"IN"}:
            words = set(norm["IN"])
        else:
            continue
        if best is None or len(words) < len(best):
            best = words
    return best


class IndexedEntityRuler(EntityRuler):
    """The EntityRuler, with token patterns run only for messages that hold their anchor word."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._by_word: Dict[str, Matcher] = {}
        self._unanchored: Optional[Matcher] = None
        self._rank: Dict[int, int] = {}  # match key -> order its first pattern was added in
        super().__init__(*args, **kwargs)

    def add_patterns(self, patterns: List[Dict[str, Any]]) -> None:
        for entry in patterns:
            label = self._create_label(entry["label"], entry["id"]) if entry.get("id") else entry["label"]
            self._rank.setdefault(self.nlp.vocab.strings.add(label), len(self._rank))
        super().add_patterns(patterns)
        self._index()

    def clear(self) -> None:
        super().clear()
        self._rank = {}
        self._index()

    def remove(self, ent_id: str) -> None:
        super().remove(ent_id)
        self._index()

    def _index(self) -> None:
        """Rebuilt from `token_patterns`, the EntityRuler's own record, so it never drifts from the Matcher."""
        self._by_word = {}
        self._unanchored = Matcher(self.nlp.vocab)
        for label, patterns in self.token_patterns.items():
            for pattern in patterns:
                words = anchor_words(pattern)
                if words is None:
                    self._unanchored.add(label, [pattern])
                    continue
                for word in words:
                    self._by_word.setdefault(word, Matcher(self.nlp.vocab)).add(label, [pattern])

    def _token_matches(self, doc: Doc) -> List[MatchTriple]:
        matches: List[MatchTriple] = list(self._unanchored(doc)) if self._unanchored is not None else []
        for word in {token.norm_ for token in doc}:
            matcher = self._by_word.get(word)
            if matcher is not None:
                matches.extend(matcher(doc))
        return matches

    def match(self, doc: Doc) -> List[MatchTriple]:
        """As EntityRuler.match: distinct non-empty matches, longest first, then earliest."""
        self._require_patterns()
        # In the order one Matcher finds them (by end, then start, then pattern), so that where two patterns
        # cover the same words the set below, and so the winner, is the EntityRuler's.
        found = sorted(self._token_matches(doc), key=lambda m: (m[2], m[1], self._rank.get(m[0], 0)))
        distinct = {
            (key, start, end) for key, start, end in found + list(self.phrase_matcher(doc)) if start != end
        }
        return sorted(distinct, key=lambda m: (m[2] - m[1], -m[1]), reverse=True)


@Language.factory(
    "carebot_entity_ruler",
    default_config={
        "phrase_matcher_attr": None,
        "validate": False,
        "overwrite_ents": False,
        "ent_id_sep": "||",
    },
)
def make_indexed_entity_ruler(nlp, name, phrase_matcher_attr, validate, overwrite_ents, ent_id_sep):
    # No annotations: spaCy's config validation cannot resolve postponed ones.
    return IndexedEntityRuler(
        nlp,
        name,
        phrase_matcher_attr=phrase_matcher_attr,
        validate=validate,
        overwrite_ents=overwrite_ents,
        ent_id_sep=ent_id_sep,
    )
