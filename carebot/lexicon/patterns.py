"""Read the EntityRuler pattern files that designers edit (`data/patterns/*.yml`).

Kept free of Rasa so the same patterns drive the NLU component, the triage tests and the evaluation scripts.
A pattern file is a list of spaCy EntityRuler patterns (`label`, `pattern`, optional `id`), optionally under a
`patterns:` key so a file can carry other top-level notes. `measurements.yml` (bands that turn numbers into
findings, carebot/lexicon/measurements.py) lives beside them and is not a pattern file.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Dict, List, Set, Tuple

import yaml

MEASUREMENTS_FILE = "measurements.yml"  # read by carebot/lexicon/measurements.py
WORD_KEYS = ("LOWER", "NORM", "ORTH", "TEXT")  # token-pattern keys whose values are words


class PatternFileError(ValueError):
    """A pattern file a designer broke; the message names the file and the entry."""


def written_words(phrase: str) -> str:
    """A phrase as written, in lower case with single spaces: the default key of the one-meaning check."""
    return " ".join(phrase.lower().split())


def load_patterns(directory: Path, same_words: Callable[[str], str] = written_words) -> List[Dict[str, Any]]:
    """All patterns of every `*.yml` file in `directory`, checked for the fields EntityRuler needs, and that no
    two phrases that `same_words` reads alike mean different things."""
    patterns: List[Dict[str, Any]] = []
    first_seen: Dict[str, Tuple[Path, str, Any, str]] = {}  # key -> (file, label, id, phrase) first seen
    for file, content in _pattern_files(directory):
        entries = content.get("patterns") if isinstance(content, dict) else content
        if not isinstance(entries, list):
            raise PatternFileError(
                f"{file}: expected a list of patterns (optionally under a 'patterns:' key)"
            )
        for index, entry in enumerate(entries):
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("label"), str)
                or not entry.get("pattern")
            ):
                raise PatternFileError(f"{file}: pattern #{index + 1} needs a 'label' and a 'pattern'")
            if not isinstance(entry["pattern"], (str, list)):
                raise PatternFileError(
                    f"{file}: pattern #{index + 1}: 'pattern' must be text or a token list"
                )
            if isinstance(entry["pattern"], list) and _has_yes_no_word(entry["pattern"]):
                raise PatternFileError(
                    f"{file}: pattern #{index + 1} ({entry.get('id')}): YAML reads on/off/yes/no "
                    f'without quotes as true/false; write them in quotes ("on")'
                )
            _check_one_meaning(first_seen, file, entry, same_words)
            patterns.append({k: entry[k] for k in ("label", "pattern", "id") if k in entry})
    return patterns


def _check_one_meaning(
    first_seen: Dict[str, Tuple[Path, str, Any, str]],
    file: Path,
    entry: Dict[str, Any],
    same_words: Callable[[str], str],
) -> None:
    """One phrase, one meaning: when two entries match the same words, the ruler keeps one of them by an order
    nobody chose ("barking cough" was croup in one file and cough in another, and croup never fired)."""
    if not isinstance(entry["pattern"], str):
        return
    key = same_words(entry["pattern"])
    meaning = (file, entry["label"], entry.get("id"), entry["pattern"])
    earlier = first_seen.setdefault(key, meaning)
    if earlier[1:3] != meaning[1:3]:
        raise PatternFileError(
            f'{file}: "{entry["pattern"]}" is {entry["label"]} {entry.get("id")} here but "{earlier[3]}" is '
            f"{earlier[1]} {earlier[2]} in {earlier[0].name}, and the text reads them alike: keep one of them"
        )


def _pattern_files(directory: Path) -> List[Tuple[Path, Any]]:
    """(file, parsed content) of every pattern file, measurements.yml aside; each parsed once per change."""
    return [
        (file, _parsed(str(file), file.stat().st_mtime_ns))
        for file in sorted(Path(directory).glob("*.yml"))
        if file.name != MEASUREMENTS_FILE
    ]


@lru_cache(maxsize=128)
def _parsed(path: str, _mtime_ns: int) -> Any:
    """One file's YAML; the modification time is part of the key, so an edited file is read again."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise PatternFileError(f"{path}{line}: not valid YAML: {getattr(error, 'problem', error)}") from None


def _has_yes_no_word(tokens: List[Any]) -> bool:
    """A word of a token pattern that YAML turned into true/false (an unquoted on, off, yes, no)."""
    for token in tokens:
        for key in WORD_KEYS:
            value = token.get(key) if isinstance(token, dict) else None
            words = value.get("IN", []) if isinstance(value, dict) else [value]
            if any(isinstance(word, bool) for word in words):
                return True
    return False


def load_medicine_risks(directory: Path) -> Dict[str, str]:
    """medicine id -> risk finding, from the `from_medicines:` section of any pattern file ("warfarin" is a
    MEDICINE for reminders and, for triage, the risk finding `risk_anticoagulant`)."""
    return {
        str(medicine): finding
        for finding, medicines in _sections(
            directory, "from_medicines", "a risk finding to a list of medicine ids"
        )
        for medicine in medicines
    }


def load_implications(directory: Path) -> Dict[str, Tuple[str, ...]]:
    """finding -> the findings it also is, from the `implies:` section of any pattern file: rigors are a fever and
    croup is a cough, so the fever and cough protocols run for them and their own rules still can."""
    implied: Dict[str, Tuple[str, ...]] = {}
    for finding, others in _sections(directory, "implies", "a finding to a list of the findings it also is"):
        implied[finding] = implied.get(finding, ()) + tuple(str(other) for other in others)
    return implied


# The `joins:` key for words that make the entity its own id (a list under the label alone means the same).
OWN_ID = "itself"


def load_joins(directory: Path) -> Dict[str, Dict[str, Tuple[str, ...]]]:
    """label -> {finding id -> the words that make an entity of that label that finding}, from the `joins:`
    section of any pattern file. A list under the label makes the entity its own id (OWN_ID): a kettle is a burn
    only when something "spilled", "touched" or "went over" it; a mapping names the findings the same entity makes
    beside other words (`itself:` for its own id): a blister beside a burn word is `burn_blisters`, beside the
    face or a hand it is `blistered_face_hands_limbs` (data/patterns/burns.yml)."""
    joins: Dict[str, Dict[str, Tuple[str, ...]]] = {}
    labels: Set[Any] = set()
    for file, content in _pattern_files(directory):
        section = content.get("joins") if isinstance(content, dict) else None
        entries = (content.get("patterns") if isinstance(content, dict) else content) or []
        labels |= {entry.get("label") for entry in entries if isinstance(entry, dict)}
        if section is not None and not isinstance(section, dict):
            raise PatternFileError(f"{file}: 'joins' maps a label to the words that make it a finding")
        for label, value in (section or {}).items():
            targets = {OWN_ID: value} if isinstance(value, list) else value
            if not isinstance(targets, dict) or not all(isinstance(v, list) for v in targets.values()):
                raise PatternFileError(
                    f"{file}: 'joins' {label}: a list of words, or finding ids each mapped to a list of words"
                )
            by_finding = joins.setdefault(str(label), {})
            for finding, words in targets.items():
                by_finding[str(finding)] = by_finding.get(str(finding), ()) + tuple(map(str, words))
    unused = sorted(set(joins) - labels)
    if unused:  # a misspelt label would join nothing, silently
        raise PatternFileError(f"{directory}: 'joins' names label(s) {unused} that no pattern has")
    return joins


def _sections(directory: Path, key: str, shape: str) -> List[Tuple[str, List[Any]]]:
    """(name, list) pairs of every pattern file's top-level `key:` section, checked to map names to lists."""
    pairs: List[Tuple[str, List[Any]]] = []
    for file, content in _pattern_files(directory):
        section = content.get(key) if isinstance(content, dict) else None
        if section is None:
            continue
        if not isinstance(section, dict) or not all(isinstance(v, list) for v in section.values()):
            raise PatternFileError(f"{file}: '{key}' maps {shape}")
        pairs += [(str(name), values) for name, values in section.items()]
    return pairs
