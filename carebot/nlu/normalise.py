"""Word normalisation for the pattern matcher: typos corrected against the pattern vocabulary, then lemmas.

Patients write "vomitting", "diarhoea", "temprature", "swolen", "legs are swelling". The designers' patterns
name one form of each word; matching on a normalised form (`Token.norm_`) lets one pattern cover the others
without a misspelling list per word. Two rules keep this safe:
- only words that are not English are corrected ("rush" is never turned into "rash"), and only to a single
  nearest pattern word (a tie corrects nothing);
- a lemma replaces a word only when it is an inflection of it ("swelling" -> "swell"), never a different word
  ("worst" -> "wrong", "left" -> "leave" in spaCy's lookup table).
English words and lemmas come from spaCy's lookup tables (package `spacy-lookups-data`); no model download.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional

import spacy_lookups_data
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

LOOKUPS = Path(spacy_lookups_data.__file__).parent / "data"

MIN_CORRECTABLE_LENGTH = 4  # "pls", "ur", "wk": too short to tell a typo from an abbreviation
MIN_LISTED_MISSPELLING_LENGTH = 6  # "copd", "gtn", "calpol": short listed words are names, not typos
SAME_STEM_PREFIX = 3  # a lemma must keep the word's first letters to count as an inflection of it
# Words whose lemma merges two things a clinician keeps apart ("fits" is a seizure, "fit" is healthy).
KEEP_AS_WRITTEN = frozenset(
    {
        "burning",  # how a pain feels, not a burn
        "stabbing",  # how a pain feels, not a stab wound
        "strained",  # a strained back is that part's pain, not an injury
        "bit",
        "fits",
        "fitting",
        "fittings",  # a coil or hearing-aid fitting, not fitting
        "drained",  # worn out; "drains" is a sink or a battery
        "passing",
        "passed",
        "left",
        "lying",
        "feeling",
        "needs",
        "worse",
        "worst",
        "drops",
        "dropped",
        "dropping",
        "limping",
        "stops",
        "banging",
        "spotting",
        "gasps",
        "number",
        "numbers",
        "winded",
    }
)  # "a bit" is not a bite; "number" is not "more numb"
# Pieces of contractions as the tokenizer splits them ("can't" -> "ca" "n't", "cant" -> "ca" "nt"), written one way.
CONTRACTIONS = {
    "n't": "not",
    "nt": "not",
    "ca": "can",
    "wo": "will",
    "'m": "am",
    "’m": "am",
    "'ve": "have",
    "'re": "are",
    "'ll": "will",
    "’ll": "will",
    "n’t": "not",
    "sha": "shall",
    "m": "am",
    # written in capitals, the tokenizer leaves these whole: "DON'T fade"
    "don't": "not",
    "doesn't": "not",
    "didn't": "not",
    "isn't": "not",
    "hasn't": "not",
    "haven't": "not",
    "wasn't": "not",
    "aren't": "not",
    # text-speak spellings too short or too far from the word for typo correction to reach
    "thru": "through",
    "thro": "through",
    "tonite": "tonight",
    "nite": "night",
    "yday": "yesterday",
    "teh": "the",
    "rly": "really",
    "wat": "what",
    "n": "and",  # "blocked n achy"
    "c": "can",  # "cnt", split like "cant" by the findings tokenizer
    "me": "my",  # "in me mouth": British speech; "hurts me" loses nothing read as "my"
}
# Text-speak contractions the tokenizer would keep whole, split the way it splits "cant" ("ca" "nt").
TEXT_SPEAK_SPLITS = {"cnt": ("c", "nt"), "Cnt": ("C", "nt")}


def _table(name: str) -> Any:
    with gzip.open(LOOKUPS / f"en_{name}.json.gz", "rt", encoding="utf-8") as handle:
        return json.load(handle)


@lru_cache(maxsize=1)
def english_lemmas() -> Mapping[str, str]:
    """spaCy's English lookup lemmatiser table: inflected form -> lemma (about 41,000 forms)."""
    return {str(key).lower(): str(value).lower() for key, value in _table("lemma_lookup").items()}


@lru_cache(maxsize=1)
def english_words() -> FrozenSet[str]:
    """Words known to be English (the lookup table's forms and lemmas, and its index of base forms of nouns,
    verbs, adjectives and adverbs): never 'corrected'."""
    lemmas = english_lemmas()
    index = {word.lower() for words in _table("lemma_index").values() for word in words}
    return frozenset(lemmas) | frozenset(lemmas.values()) | frozenset(index)


def pattern_words(patterns: Iterable[Mapping[str, Any]]) -> FrozenSet[str]:
    """Every lower-case word the patterns match on: phrase words and the LOWER values of token patterns."""
    words = set()
    for entry in patterns:
        pattern = entry["pattern"]
        if isinstance(pattern, str):
            words.update(pattern.lower().replace("'", " ").split())
            continue
        for token in pattern:
            for value in _lower_values(token):
                words.add(value.lower())
    return frozenset(w for w in words if w.isalpha())


def _lower_values(token: Mapping[str, Any]) -> List[str]:
    value = token.get("LOWER")
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict) and isinstance(value.get("IN"), list):
        return [v for v in value["IN"] if isinstance(v, str)]
    return []


class Normaliser:
    """lower-case word -> the form patterns and text are both matched on (cached per word)."""

    def __init__(self, vocabulary: Iterable[str]) -> None:
        english = english_words()
        words = set(vocabulary)
        self.vocabulary = sorted(words)
        self.english_vocabulary = sorted(words & english)  # what a designer's misspelling is corrected to
        self.known = english | words
        self.lemmas = english_lemmas()
        self.norm = lru_cache(maxsize=50_000)(self._norm)

    def _norm(self, word: str) -> str:
        return CONTRACTIONS.get(word) or self.lemma(self.correct(word))

    def correct(self, word: str) -> str:
        """The single pattern word within reach of a non-English word, else the word itself.

        A misspelling the designers listed ("vomitting") is itself a pattern word: it is read as the English
        pattern word one letter away ("vomiting"), so every pattern about vomiting covers it; a listed word that is
        no misspelling of one (a brand, an abbreviation) stays as it is."""
        if len(word) < MIN_CORRECTABLE_LENGTH or not word.isalpha() or word in english_words():
            return word
        if word.endswith("in") and word + "g" in english_words():
            return word + "g"  # a dropped g, as said: "bleedin", "goin", "killin"
        if word in self.known:
            if len(word) < MIN_LISTED_MISSPELLING_LENGTH:
                return word
            candidates, reach = self.english_vocabulary, 1
        else:
            candidates, reach = self.vocabulary, (1 if len(word) < 8 else 2)
        matches = process.extract(
            word, candidates, scorer=DamerauLevenshtein.distance, score_cutoff=reach, limit=3
        )
        if not matches:
            return word
        best = min(score for _, score, _ in matches)
        nearest = [candidate for candidate, score, _ in matches if score == best]
        return nearest[0] if len(nearest) == 1 else word

    def lemma(self, word: str) -> str:
        if word in KEEP_AS_WRITTEN:
            return word
        lemma = self.lemmas.get(word)
        if lemma and lemma[:SAME_STEM_PREFIX] == word[:SAME_STEM_PREFIX]:
            return lemma
        return word


def normalised_pattern(entry: Dict[str, Any], normaliser: Normaliser) -> Dict[str, Any]:
    """A token pattern matched on NORM instead of LOWER, its words normalised like the text will be."""
    pattern = entry["pattern"]
    if isinstance(pattern, str):
        return entry
    return {**entry, "pattern": [_normalised_token(token, normaliser) for token in pattern]}


def _normalised_token(token: Dict[str, Any], normaliser: Normaliser) -> Dict[str, Any]:
    value: Optional[Any] = token.get("LOWER")
    if isinstance(value, str):
        rest = {k: v for k, v in token.items() if k != "LOWER"}
        return {**rest, "NORM": normaliser.norm(value.lower())}
    if isinstance(value, dict) and isinstance(value.get("IN"), list):
        rest = {k: v for k, v in token.items() if k != "LOWER"}
        words = [
            normaliser.norm(str(v).lower()) for v in value["IN"]
        ]  # YAML reads 4 as a number: it is a word
        return {**rest, "NORM": {**value, "IN": list(dict.fromkeys(words))}}
    return token
