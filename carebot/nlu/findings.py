"""Findings from a patient's free text: symptoms, duration, age group, pregnancy, each with its context.

spaCy only (no Rasa), so triage can be tested and benchmarked without a trained model. The pipeline is
`spacy.blank("en")` + `sentencizer` + `entity_ruler` over `data/patterns/*.yml` + `carebot_context`, a small
context component written here instead of medspaCy's ConText because ConText's default rules scope
"denies fever, has chest pain" as both negated and miss "last year" as history; these rules are short, read
top to bottom, and importing medspaCy costs seconds per process.

Only current, affirmed findings about the patient count for triage; the others are kept, flagged, so the Rasa
component can emit them with a role (negated / historical / family / hypothetical).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple

import spacy
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.symbols import ORTH
from spacy.tokens import Doc, Span

from carebot.lexicon.measurements import Band, Measurement, findings_for, load_bands, read_measurements
from carebot.lexicon.patterns import OWN_ID, load_implications, load_joins, load_medicine_risks, load_patterns
from carebot.nlu import ruler as _ruler  # noqa: F401  registers the carebot_entity_ruler factory
from carebot.nlu.normalise import TEXT_SPEAK_SPLITS, Normaliser, normalised_pattern, pattern_words
from carebot.triage.loader import DURATION_FINDINGS
from carebot.triage.model import INFANT_MAX_DAYS, YOUNG_BABY, YOUNG_BABY_MAX_DAYS, Profile, age_group_for_days

FINDING_LABELS = {
    "SYMPTOM",
    "SEVERITY",
    "RISK",
}  # RISK: data/patterns/risk_factors.yml (ids start with risk_)
HARM = "HARM"  # data/patterns/burns.yml: what burns, a finding only when its `joins:` words bring it onto the skin
SITE, PAIN, AGE, DURATION, PREGNANCY, MEDICINE = (
    "BODY_SITE",
    "PAIN",
    "AGE",
    "DURATION",
    "PREGNANCY",
    "MEDICINE",
)
# Findings only a pregnancy has ("the baby isn't kicking as much, I'm 30 weeks"): the patient is pregnant.
SIGNS_OF_PREGNANCY = frozenset({"reduced_fetal_movement", "waters_broken"})
PRESENT_BE = frozenset({"am", "'m", "’m", "im", "is", "'s", "’s", "are", "'re"})  # "I'm pregnant" is now
PLAIN_PAIN = (
    "pain"  # a PAIN word that says only that it hurts; other PAIN ids also say how (a finding of their own)
)
# Complaints that say nothing of where it hurts: beside only these, a pain with no place in pregnancy is tummy pain.
UNPLACED = frozenset(
    (
        "pregnancy_possible",
        "fainted",
        "dizziness",
        "collapsed",
        "vaginal_bleeding",
        "bleeding",
        "heavy_bleeding",
        "miscarriage",
        "vomiting",
        "nausea",
        "fever",
        "sweating",
        "unwell",
        "very_unwell",
        "severity_severe",
    )
)
TIGHTENING = frozenset(("tight", "tighter", "tightness", "tightening", "tightenings"))
PAIN_WORDS = frozenset(
    {"pain", "painful", "sore", "hurt", "hurts", "hurting", "ache", "aching", "agony", "tender"}
)
MODIFIERS = ("sudden_onset", "worsening", "severity_severe")  # read even inside a longer finding
# Signs that still count when they have passed ("his speech was slurred for 15 minutes, now back to normal" is a
# TIA: NHS.uk says call 999 even if the symptoms go away; "a fit for a few seconds then stopped": NHS.uk Epilepsy
# says call 999 for a first fit however short), so a later "gone"/"normal"/"stopped" does not rule them out.
NOT_UNDONE_BY_PASSING = frozenset(
    {"slurred_speech", "face_drooping", "limb_weakness", "vision_loss", "arm_cannot_lift", "seizure"}
)  # "a temperature of 39.5" is a fever too, for every rule that asks for one
VAGUE_BABY_WORDS = frozenset({"baby", "my baby", "the baby", "our baby", "babies", "baby boy", "baby girl"})
# AGE ids of age.yml that are also a risk finding, as the age_years bands of measurements.yml are for a number.
AGE_RISKS = {"older": "risk_age_65_plus", "under_5": "risk_age_under_5"}
ROLES = ("negated", "family", "historical", "hypothetical")  # first that applies is the Rasa role

# --- context rules (lower-case phrases, tokenised like the text) ----------------------------------------------
NEGATION_BEFORE = [
    "no",
    "not",
    "n't",
    "nt",
    "never",
    "without",
    "denies",
    "deny",
    "denied",
    "none",
    "nothing",
    "nor",
    "neither",
    "dont",
    "doesnt",
    "didnt",
    "havent",
    "hasnt",
    "isnt",
    "arent",
    "wasnt",
    "aint",
    "free of",
    "negative for",
    "no sign of",
    "no signs of",
    "ruled out",
    "no longer",
    "no more",
    "absence of",
    "zero",
]
NEGATION_AFTER = [
    "is gone",
    "are gone",
    "now gone",
    "all gone",
    "has gone",
    "went away",
    "gone away",
    "resolved",
    "stopped",
    "has stopped",
    "cleared",
    "cleared up",
    "settled",
    "has settled",
    "has passed",
    "passed now",
    "is normal",
    "normal",
    "better now",
    "fine now",
    "has eased",
    "eased off",
    "subsided",
    "is fine",
    "are fine",
]
HISTORY_BOTH = [
    "last year",
    "years ago",
    "year ago",
    "yrs ago",
    "yr ago",
    "years back",
    "months ago",
    "month ago",
    "in the past",
    "a while ago",
    "a long time ago",
    "as a child",
    "when i was",
    "when i was younger",
    "history of",
    "hx of",
    "h/o",
    "used to",
    "previously",
    "previous",
    "once had",
    "back in",
    "last month",
    "weeks ago",
    "last week",
    "few weeks ago",
    "last summer",
    "last winter",
    "in 20",
]
HISTORY_WEAK = {"weeks ago", "last week", "few weeks ago", "last month", "month ago", "months ago"}
HISTORY_CANCELLED_BY = {
    "since",
    "for",
    "from",
    "over",
    "started",
    "began",
    "starting",
    "ongoing",
    "still",
    "every",
    "each",
    "again",
}
RELATIVES = {
    "mum",
    "mom",
    "mother",
    "dad",
    "father",
    "brother",
    "sister",
    "grandmother",
    "grandma",
    "grandad",
    "grandfather",
    "granddad",
    "nan",
    "nana",
    "uncle",
    "aunt",
    "auntie",
    "aunty",
    "cousin",
    "parents",
    "parent",
    "sibling",
    "siblings",
    "family",
    "relatives",
    "relative",
    "grandparents",
    "granny",
}
SELF = {"i", "im", "me", "myself", "'m"}
FAMILY_VERBS = {"had", "died", "passed", "suffered", "history", "runs", "run", "has had"}
FAMILY_PHRASES = [
    "family history of",
    "family history",
    "runs in the family",
    "runs in my family",
    "in my family",
    "in the family",
    "genetic",
]
RECENT = {  # words that tie a relative's illness to now: a report about them, not family history
    "just",
    "then",
    "another",
    "again",
    "earlier",
    "today",
    "now",
    "tonight",
    "currently",
    "moment",
    "morning",
    "minutes",
    "hours",
    "yesterday",
    "suddenly",
    "right",
    "days",
    "weeks",
    "week",
    "night",
}
HYPOTHETICAL_BEFORE = [
    "if",
    "in case",
    "what if",
    "whether",
    "signs of",
    "sign of",
    "symptoms of",
    "risk of",
    "prevent",
    "avoid",
    "could i get",
    "might get",
    "worried about getting",
    "afraid of getting",
    "scared of getting",
    "chance of",
    "should i worry about",
    "how do i know if",
    "how to tell if",
    "what are the signs",
    "can you get",
    "how do you treat",
    "how to treat",
    "information about",
    "leaflet about",
    "tell me about",
    "what causes",
    "what is",
    "what's",
]
# Said after a question about a complaint, these make it the writer's own ("what's a normal temp for a baby? hers is
# 38.5", "what does black poo mean, mine has been since yesterday"): the finding is current, not hypothetical.
HYPOTHETICAL_CLAIMED = [
    "mine is",
    "mine's",
    "mine has",
    "mine was",
    "mine does",
    "mine keeps",
    "hers is",
    "hers has",
    "hers was",
    "his is",
    "his has",
    "his was",
    "theirs is",
    "i have that",
    "i've got that",
    "ive got that",
    "i have this",
    "i've got this",
    "ive got this",
]
# ... but not when the claim says theirs is something else: "mine is just a cold", "hers is fine".
CLAIM_OTHERWISE = frozenset({"just", "only", "fine", "ok", "okay", "normal", "not", "different", "nothing"})
HYPOTHETICAL_AFTER = [
    "jab",
    "jabs",
    "vaccine",
    "vaccines",
    "vaccination",
    "vaccinations",
    "shot",
    "booster",
    "test",
    "tests",
    "testing",
    "screening",
    "check",
    "check up",
    "checkup",
    "leaflet",
]
# "has gone red", "the pain has gone on for hours": gone as a change of state, not "it has gone" (passed).
_BECAME = (
    "red pink purple blue grey white pale yellow black dark hot cold warm numb stiff hard swollen puffy lumpy floppy "
    "quiet weird funny strange worse bad tight on up into"
).split()
PSEUDO = (
    [f"gone {word}" for word in _BECAME]
    + [f"went {word}" for word in _BECAME]
    + [
        # "the things I used to love": what is no longer enjoyed is now (NHS.uk Depression), not history
        *[f"used to {word}" for word in ("love", "enjoy", "like", "look forward to")],
        "not sure",
        "not sure if",
        "not sure whether",
        "not certain",
        "not only",
        "not just",
        "not like her normal",  # "a moaning cry not like her normal one": a change told, not a denial (the
        "not like his normal",  # whole phrase, so "normal" is not read as "back to normal" either)
        "not like her usual",
        "not like his usual",
        "not like him",
        "not like her",
        "no better",
        "not better",
        "not improving",
        "not getting better",
        "not stopping",
        "no relief",
        "not go away",
        "not gone away",
        "not gone",
        "hasn't gone",
        "haven't gone",
        "hasnt gone",
        "not going away",
        "won't go",
        "wont go",
        "doesn't go",
        "doesnt go",
        "isn't going",
        "can't stop",
        "cant stop",
        "cannot stop",
        "cnt stop",
        "can't feel",  # "can't feel between his legs": numbness told, not a symptom denied
        "cant feel",
        "cannot feel",
        "cnt feel",
        "couldn't feel",
        "won't stop",
        "wont stop",
        "doesn't stop",
        "doesnt stop",
        "not stopped",
        "hasn't stopped",
        "hasnt stopped",
        "haven't stopped",
        "didn't stop",
        "not coming down",
        "won't come down",
        "not going down",
        "not settling",
        "won't settle",
        "not helping",
        "isn't helping",
        "didn't help",
        "doesn't help",
        "not working",
        "didn't work",
        "no idea",
        "no idea if",
        "don't know if",
        "dont know if",
        "don't know whether",
        "unsure if",
        "wondering if",
        "can't tell",
        "cant tell",
        "not right",
        "not normal",
        "as if",
        "even if",
        "no change",
        "not eased",
        "hasn't eased",
        "haven't eased",
        "not cleared",
        "hasn't cleared",
        "no matter",
        "than normal",
        "than usual",
    ]
)
HARD_BREAKS = {
    ",",
    ";",
    ":",
    ".",
    "!",
    "?",
    "(",
    ")",
    "but",
    "however",
    "although",
    "though",
    "except",
    "yet",
    "whereas",
    "apart",
    "besides",
    "otherwise",
    "instead",
    "which",
    "because",  # a reason is a clause of its own: "can't put my shirt on because my shoulder hurts"
    "cos",
    "coz",
    "cuz",
    "—",
    "–",
    "/",
    "&",
}
# A new subject or verb ends a negation's reach: "denies fever has chest pain", "no fever I have a cough".
SOFT_BREAKS = {
    "i",
    "he",
    "she",
    "they",
    "we",
    "has",
    "have",
    "got",
    "having",
    "am",
    "is",
    "are",
    "its",
    "it",
    "im",
    "also",
    "plus",
    "says",  # a reported clause starts afresh: "can't bear the light and says her neck hurts"
    "said",
    "saying",
    "complains",
    "complaining",
    "'s",
    "'m",
}
POSSESSIVES = frozenset({"my", "his", "her", "their", "our"})
DETERMINERS = frozenset({"the", "a", "an", "my", "his", "her", "their", "our", "your", "this", "that"})
# A word that ties a possessive to what came before it ("the back of my leg", "pain in my side").
LINKING_WORDS = frozenset(
    "in on of to at from with around across under near behind above below into over through down up and or nor both "
    "all off by for about".split()
)
PAST_VERBS = frozenset(
    {"hit", "fell", "got", "cut", "bit", "went", "came", "ran", "broke", "took", "threw", "banged"}
)
# "can't walk without pain": "without" after a negation in the same clause affirms what follows it.
DOUBLE_NEGATION_BEFORE_WITHOUT = frozenset({"n't", "nt", "not", "cannot", "never", "unable"})
NEW_SUBJECT = {"her", "his", "my", "their", "our", "the", "she", "he", "i", "it", "they", "we", "now", "then"}
POST_BREAKS = {
    "and",
    "but",
    "i",
    "he",
    "she",
    "they",
    "we",
    "since",
    "because",
    "after",
    "when",
    "until",
    "so",
}
PRE_WINDOW, POST_WINDOW = 7, 5
# Words between an entity and its `joins:` word ("steam off the kettle … my cheek is blistering").
JOIN_WINDOW = 10
# A `joins:` match is keyed "label|finding": the label it completes and the finding it makes.
JOIN_SEPARATOR = "|"
LIST_WORDS = frozenset({"or", "nor", "and", "any", "a"})
NOT_WORDS = frozenset({"not", "n't", "nt"})  # a bare "not" negates one thing, unless a list says or/nor
# "Nothing" or "none" then a comma is a verdict, not the start of a list: "probably nothing, can't pee at all".
VERDICT_NEGATIONS = frozenset({"nothing", "none"})

# --- numbers for age and duration ---------------------------------------------------------------------------
_WORD_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "eighteen": 18,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "couple": 2,
    "few": 3,
    "several": 4,
}
_UNIT_DAYS = {
    "minute": 1 / 1440,
    "min": 1 / 1440,
    "hour": 1 / 24,
    "hr": 1 / 24,
    "day": 1,
    "night": 1,
    "week": 7,
    "wk": 7,
    "fortnight": 14,
    "month": 30,
    "mth": 30,
    "mo": 30,
    "year": 365,
    "yr": 365,
    "y": 365,
    "yo": 365,
}
_WORD_DAYS = {
    "yesterday": 1,
    "overnight": 0.5,
    "today": 0.3,
    "tonight": 0.2,
    "morning": 0.3,
    "night": 0.7,
    "evening": 0.2,
    "afternoon": 0.2,
    "lunchtime": 0.2,
    "lunch": 0.2,
    "breakfast": 0.3,
    "dinner": 0.1,
    "teatime": 0.1,
    "hours": 0.3,
    "day": 0.5,
    "weekend": 3,
    "days": 4,
    "week": 7,
    "weeks": 14,
    "month": 30,
    "months": 60,
    "ages": 30,
    "yonks": 90,
    "year": 365,
    "years": 730,
    "ever": 730,
    "christmas": 30,
    "birth": 30,
    "monday": 4,
    "tuesday": 4,
    "wednesday": 4,
    "thursday": 4,
    "friday": 4,
    "saturday": 4,
    "sunday": 4,
}
_DURATION_LIMITS = (
    (3, "duration_under_3d"),
    (5, "duration_3d_to_5d"),
    (7, "duration_5d_to_1w"),
    (21, "duration_1w_to_3w"),
    (42, "duration_3w_to_6w"),
    (float("inf"), "duration_6w_plus"),
)
assert tuple(name for _, name in _DURATION_LIMITS) == DURATION_FINDINGS


@dataclass(frozen=True)
class Finding:
    """One thing the patient told, with where it is and whether it is current.

    `entity`/`id`/`role` map one-to-one onto a Rasa entity (`as_entity`): entity `symptom` (value = finding id),
    `age_group` (infant/child/adult) or `pregnant`, with `role` set only when the finding is not current.
    """

    id: str
    entity: str
    text: str
    start: int
    end: int
    negated: bool = False
    historical: bool = False
    family: bool = False
    hypothetical: bool = False
    # Only a body part was named ("…breaking my back"): the part's complaint for triage, but not evidence enough
    # to override what the intent classifier thought the message was about.
    site_only: bool = False

    @property
    def role(self) -> Optional[str]:
        return next((name for name in ROLES if getattr(self, name)), None)

    @property
    def current(self) -> bool:
        """Current, affirmed and the patient's own: the only kind triage counts."""
        return self.role is None

    def as_entity(self) -> Dict[str, Any]:
        entity = {
            "entity": self.entity,
            "value": "true" if self.entity == "pregnant" else self.id,
            "start": self.start,
            "end": self.end,
            "confidence": 1.0,
        }
        if self.role:
            entity["role"] = self.role
        return entity


def build_findings_pipeline(patterns_dir: Path) -> Language:
    """Build once per process (about a second); every `extract_findings` call then takes milliseconds.

    Patterns match on `Token.norm_` (carebot/nlu/normalise.py: typos corrected, inflections lemmatised), so
    "swolen legs" and "my leg swelled" meet the pattern "swollen leg"; measurements ("39.2C", "sats 89%") become
    findings through the bands of `measurements.yml`."""
    patterns = load_patterns(patterns_dir)
    normaliser = Normaliser(pattern_words(patterns))
    nlp = spacy.blank("en")
    for word, pieces in TEXT_SPEAK_SPLITS.items():
        nlp.tokenizer.add_special_case(word, [{ORTH: piece} for piece in pieces])
    nlp.add_pipe("sentencizer")
    normalise = nlp.add_pipe("carebot_normalise")
    normalise.normaliser = normaliser
    # Checked again as the text will be read: "stabbing" (pain) and "stabbed" (injury) must not meet in one lemma.
    load_patterns(patterns_dir, lambda phrase: " ".join(t.norm_ for t in normalise(nlp.make_doc(phrase))))
    ruler = nlp.add_pipe(
        "carebot_entity_ruler", name="entity_ruler", config={"phrase_matcher_attr": "NORM", "validate": True}
    )
    ruler.add_patterns([normalised_pattern(entry, normaliser) for entry in patterns])
    context = nlp.add_pipe("carebot_context")
    context.modifiers = _modifier_matcher(nlp, patterns)
    context.bands = load_bands(patterns_dir)
    context.medicine_risks = load_medicine_risks(patterns_dir)
    context.implications = load_implications(patterns_dir)
    context.joins = _join_matcher(nlp, normalise, load_joins(patterns_dir))
    return nlp


def _join_matcher(nlp: Language, normalise: Any, joins: Dict[str, Dict[str, Sequence[str]]]) -> PhraseMatcher:
    """The `joins:` words of the pattern files, keyed "label|finding" (the label they complete and the finding they
    make), normalised as the text will be (tokenised and normalised only: the rest of the pipeline has nothing to
    add to a phrase matched on NORM)."""
    matcher = PhraseMatcher(nlp.vocab, attr="NORM")
    for label, targets in joins.items():
        for finding, words in targets.items():
            matcher.add(f"{label}{JOIN_SEPARATOR}{finding}", [normalise(nlp.make_doc(w)) for w in words])
    return matcher


def _modifier_matcher(nlp: Language, patterns: Sequence[Dict[str, Any]]) -> PhraseMatcher:
    """Modifier phrases ("suddenly", "getting worse", "agony") matched again on their own: inside a longer match
    ("my feet have suddenly swollen") the ruler keeps only the longer finding, and the modifier would be lost."""
    matcher = PhraseMatcher(nlp.vocab, attr="NORM")
    for entry in patterns:
        if entry.get("id") in MODIFIERS and isinstance(entry["pattern"], str):
            matcher.add(entry["id"], [nlp(entry["pattern"])])
    return matcher


def extract_findings(nlp: Language, text: str) -> List[Finding]:
    """Every finding in `text`, in reading order, each flagged negated/historical/family/hypothetical."""
    return list(nlp(text)._.findings) if text and text.strip() else []


def current_ids(findings: Iterable[Finding]) -> List[str]:
    """The triage findings that count: current, affirmed symptoms/severity/duration, in the order told."""
    return list(dict.fromkeys(f.id for f in findings if f.entity == "symptom" and f.current))


def denied_ids(findings: Iterable[Finding]) -> List[str]:
    """Findings the patient ruled out ("no chest pain"): triage will not ask about them again."""
    return list(dict.fromkeys(f.id for f in findings if f.entity == "symptom" and f.negated))


def profile_from(findings: Iterable[Finding], default: Profile = Profile()) -> Profile:
    """Age group from the first current age told with a number, else the first told in words ("my daughter,
    she is 7 weeks old" is a baby under 3 months, not a child); pregnant if a current, affirmed mention says so."""
    findings = list(findings)
    pregnant = [f for f in findings if f.entity == "pregnant" or f.id in SIGNS_OF_PREGNANCY]
    is_pregnant = any(f.current for f in pregnant) if pregnant else default.pregnant
    ages = [
        f
        for f in findings
        if f.entity == "age_group" and f.current and not (is_pregnant and "baby" in f.text.lower())
    ]  # when pregnant, "the baby" is not the patient
    numbered = [f for f in ages if _told_with_a_number(f)]
    chosen = (numbered or ages)[:1]
    return Profile(age_group=chosen[0].id if chosen else default.age_group, pregnant=is_pregnant)


def _told_with_a_number(finding: Finding) -> bool:
    return any(_number(word) is not None for word in re.findall(r"[\w.,]+", finding.text))


class _Triggers(dict):
    """Context trigger spans by kind, plus the token positions that belong to findings themselves."""

    def __init__(self, spans: Dict[str, List[Tuple[int, int]]], inside: FrozenSet[int]) -> None:
        super().__init__(spans)
        self.inside = inside


# --- the spaCy component -----------------------------------------------------------------------------------------

if not Doc.has_extension("findings"):
    Doc.set_extension("findings", default=())


@Language.factory("carebot_normalise")
def _make_normaliser(nlp, name):  # no annotations: spaCy's config validation cannot resolve postponed ones
    return NormaliseComponent()


class NormaliseComponent:
    """Sets every token's NORM to its normalised form; the normaliser is attached by build_findings_pipeline."""

    normaliser: Optional[Normaliser] = None

    def __call__(self, doc: Doc) -> Doc:
        if self.normaliser is not None:
            for token in doc:
                token.norm_ = self.normaliser.norm(token.lower_)
        return doc


@Language.factory("carebot_context")
def _make_context(nlp, name):  # no annotations: spaCy's config validation cannot resolve postponed ones
    return ContextComponent(nlp)


class ContextComponent:
    """Turns ruler entities into `Finding`s: joins body site + pain, reads ages/durations/measurements, sets
    context flags."""

    bands: Tuple = ()
    modifiers: Optional[PhraseMatcher] = None
    joins: Optional[PhraseMatcher] = None  # `joins:` words by the label they complete
    medicine_risks: Dict[str, str] = {}  # medicine id -> risk finding ("warfarin" -> risk_anticoagulant)
    implications: Dict[str, Tuple[str, ...]] = {}  # finding -> the findings it also is ("rigors" -> fever)
    site_alone_is_a_complaint = (
        True  # a body part named with no known complaint word becomes that part's finding
    )

    def __init__(self, nlp: Language) -> None:
        self.matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        for key, phrases in (
            ("NEG_PRE", NEGATION_BEFORE),
            ("NEG_POST", NEGATION_AFTER),
            ("HIST", HISTORY_BOTH),
            ("FAM", FAMILY_PHRASES),
            ("HYPO_PRE", HYPOTHETICAL_BEFORE),
            ("HYPO_POST", HYPOTHETICAL_AFTER),
            ("HYPO_CLAIM", HYPOTHETICAL_CLAIMED),
            ("PSEUDO", PSEUDO),
        ):
            self.matcher.add(key, [nlp.make_doc(p) for p in phrases])

    def __call__(self, doc: Doc) -> Doc:
        # Words inside a finding ("can't breathe") are not triggers; words of a duration ("2 years ago") may be.
        inside = frozenset(
            i for ent in doc.ents if ent.label_ not in (DURATION, AGE) for i in range(ent.start, ent.end)
        )
        triggers = _Triggers(self._triggers(doc), inside)
        findings: List[Finding] = []
        for kind, span, gap in self._candidates(doc):
            if kind == AGE:
                group = age_group(span)
                if group:
                    findings.append(self._finding(group, "age_group", span, gap, triggers, doc))
                if span.ent_id_ in AGE_RISKS:  # "my nan": 65 or over; "toddler": under 5 — a risk factor
                    findings.append(
                        self._finding(AGE_RISKS[span.ent_id_], "symptom", span, gap, triggers, doc)
                    )
                if span.ent_id_ == "baby":  # a baby of unknown age: triage asks whether under 3 months
                    findings.append(self._finding("baby_age_unknown", "symptom", span, gap, triggers, doc))
                days = age_days(span) if span.ent_id_ == "age_number" else None
                if days is not None and INFANT_MAX_DAYS <= days < YOUNG_BABY_MAX_DAYS:  # NICE: 3-6 months
                    findings.append(self._finding(YOUNG_BABY, "symptom", span, gap, triggers, doc))
            elif kind == DURATION:
                days = duration_days(span) if not _is_pregnancy_stage(doc, span) else None
                if days is not None:
                    bucket = next(name for limit, name in _DURATION_LIMITS if days < limit)
                    findings.append(self._finding(bucket, "symptom", span, gap, triggers, doc, context=False))
            elif kind == PREGNANCY:
                findings.append(self._finding("pregnant", "pregnant", span, gap, triggers, doc))
            else:
                for fid in (kind,) + self.implications.get(kind, ()):
                    findings.append(self._finding(fid, "symptom", span, gap, triggers, doc))
        for ent in doc.ents:
            risk = self.medicine_risks.get(ent.ent_id_) if ent.label_ == MEDICINE else None
            if risk:
                findings.append(self._finding(risk, "symptom", ent, (), triggers, doc))
        findings += self._inner_modifiers(doc, findings, triggers)
        measurements = read_measurements(doc)
        for measurement in measurements + self._ages(doc):
            span = doc.char_span(measurement.start, measurement.end, alignment_mode="expand")
            for fid in findings_for(measurement, self.bands):
                findings.append(self._finding(fid, "symptom", span, (), triggers, doc))
        findings = _without_normal_temperature(findings, measurements, self.bands)
        findings = _without_vague_baby_age(findings)
        doc._.findings = tuple(sorted(findings, key=lambda f: f.start))
        return doc

    def _inner_modifiers(self, doc: Doc, findings: List[Finding], triggers) -> List[Finding]:
        if self.modifiers is None:
            return []
        told = {f.id for f in findings}
        extra: List[Finding] = []
        for key, start, end in self.modifiers(doc):
            fid = doc.vocab.strings[key]
            if fid not in told:
                told.add(fid)
                extra.append(self._finding(fid, "symptom", doc[start:end], (), triggers, doc))
        return extra

    @staticmethod
    def _ages(doc: Doc) -> List[Measurement]:
        """Ages in years, for bands such as "65 and over" (the age group itself comes from the AGE finding)."""
        ages = []
        for ent in doc.ents:
            days = age_days(ent) if ent.label_ == AGE and ent.ent_id_ == "age_number" else None
            if days is not None:
                ages.append(Measurement("age_years", days / 365, ent.start_char, ent.end_char))
        return ages

    # candidates: (finding id or label, span, gap token indices that may hold a trigger)
    def _candidates(self, doc: Doc) -> List[Tuple[str, Span, Tuple[int, ...]]]:
        ents = list(doc.ents)
        used: Set[int] = set()
        out: List[Tuple[str, Span, Tuple[int, ...]]] = []
        for i, ent in enumerate(ents):
            if not _hurts(ent):
                continue
            for site in _sites_near(doc, ents, i, used):
                used |= {i, site}
                first, second = sorted((ent, ents[site]), key=lambda e: e.start)
                span = doc[first.start : second.end]
                out.append((ents[site].ent_id_, span, tuple(range(first.end, second.start))))
            if ent.ent_id_ != PLAIN_PAIN and (ent.label_ == PAIN or i in used):  # else a lone SEVERITY, below
                # "in agony" (severity_severe), "squeezed" (pain_crushing): how it hurts, joined to a site or not
                out.append((ent.ent_id_, ent, ()))
        out.extend(self._joined(doc, ents))
        for i, ent in enumerate(ents):
            if i in used or ent.label_ in (PAIN, SITE):
                continue
            if ent.label_ in FINDING_LABELS:
                out.append((ent.ent_id_, ent, ()))
            elif ent.label_ in (AGE, DURATION, PREGNANCY):
                out.append((ent.label_, ent, ()))
        if (
            any(_tells_a_pregnancy(ent) for ent in ents)
            and not any(ent.label_ == SITE for ent in ents)
            and all(found in UNPLACED or not _is_complaint(found) for found, _, _ in out)
        ):
            # "6 weeks pregnant, sharp pain, fainted": in pregnancy a pain said with no place, beside nothing
            # that has a place of its own (piles, a rash), is read as tummy pain, so the pregnancy rules (ectopic
            # pregnancy, bleeding inside) see it. A bump that "goes tight" is a tightening, not a pain.
            out.extend(
                ("abdominal_pain", ent, ())
                for i, ent in enumerate(ents)
                if ent.ent_id_ == PLAIN_PAIN and i not in used and ent.root.lower_ not in TIGHTENING
            )
        if self.site_alone_is_a_complaint and not any(_is_complaint(found) for found, _, _ in out):
            # "when I carry heavy things I feel like breaking my back": a body part named with no complaint word
            # the patterns know is still where the problem is, so its protocol (and its red flags) can run.
            out.extend(
                (ent.ent_id_, ent, ()) for i, ent in enumerate(ents) if ent.label_ == SITE and i not in used
            )
        return out

    def _joined(self, doc: Doc, ents: List[Span]) -> List[Tuple[str, Span, Tuple[int, ...]]]:
        """An entity whose label has `joins:` words is a finding only with one of them in the same sentence, within
        ten words either way: "pulled my tea over himself", "went over my hand, loads of blisters"
        (data/patterns/burns.yml). One entity may make several findings, one per kind of word it is joined by:
        "burnt his arm, it's blistering" is a blistered arm and a blistered burn."""
        if self.joins is None:
            return []
        words: List[Tuple[str, str, int, int]] = []
        for key, start, end in self.joins(doc):
            label, finding = doc.vocab.strings[key].split(JOIN_SEPARATOR)
            words.append((label, finding, start, end))
        found = []
        for ent in ents:
            made: Set[str] = set()
            for label, finding, start, end in words:
                fid = ent.ent_id_ if finding == OWN_ID else finding
                if label != ent.label_ or fid in made:
                    continue
                lo, hi = (ent.end, start) if start >= ent.end else (end, ent.start)
                if 0 <= hi - lo <= JOIN_WINDOW and not any(
                    _ends_a_sentence(doc[t]) for t in range(lo, hi + 1)
                ):
                    made.add(fid)
                    found.append((fid, doc[min(start, ent.start) : max(end, ent.end)], tuple(range(lo, hi))))
        return found

    def _triggers(self, doc: Doc) -> Dict[str, List[Tuple[int, int]]]:
        found: Dict[str, List[Tuple[int, int]]] = {}
        pseudo: Set[int] = set()
        matches = [(doc.vocab.strings[key], start, end) for key, start, end in self.matcher(doc)]
        for key, start, end in matches:
            if key == "PSEUDO":
                pseudo |= set(range(start, end))
        for key, start, end in matches:
            if key == "PSEUDO" or any(t in pseudo for t in range(start, end)):
                continue
            found.setdefault(key, []).append((start, end))
        return found

    def _finding(
        self,
        fid: str,
        entity: str,
        span: Span,
        gap: Sequence[int],
        triggers: Dict[str, List[Tuple[int, int]]],
        doc: Doc,
        context: bool = True,
    ) -> Finding:
        flags = dict.fromkeys(ROLES, False)
        if context:
            flags["negated"] = self._negated(doc, span, gap, triggers, fid)
            # A risk factor is past by nature ("gave birth last week", "had a heart attack in 2019"): never history.
            flags["historical"] = (
                not fid.startswith("risk_")
                and self._historical(doc, span, triggers)
                and not _still_pregnant(entity, span)
            )
            flags["family"] = self._family(doc, span, triggers)
            flags["hypothetical"] = self._hypothetical(doc, span, triggers)
        # A whole-entity span is a bare site (joins of a pain word and a site have no label).
        site_only = getattr(span, "label_", "") == SITE
        return Finding(fid, entity, span.text, span.start_char, span.end_char, **flags, site_only=site_only)

    @staticmethod
    def _usable(start: int, end: int, gap: Sequence[int], triggers: "_Triggers") -> bool:
        """A trigger inside any entity ('can't breathe') is part of that finding, unless in a join's gap."""
        tokens = range(start, end)
        if all(t in gap for t in tokens):
            return True
        return not any(t in triggers.inside for t in tokens)

    def _negated(self, doc: Doc, span: Span, gap: Sequence[int], triggers, finding_id: str = "") -> bool:
        for start, end in triggers.get("NEG_PRE", []):
            if not self._usable(start, end, gap, triggers):
                continue
            if start >= span.start and all(t in gap for t in range(start, end)):
                return True
            if (
                end <= span.start
                and _in_scope_after(doc, end, span.start)
                and not _affirming_without(doc, start)
            ):
                return True
        passing = [] if finding_id in NOT_UNDONE_BY_PASSING else triggers.get("NEG_POST", [])
        for start, end in passing:
            usable = self._usable(start, end, gap, triggers)
            if usable and start >= span.end and _in_scope_before(doc, span.end, start):
                return True
        return False

    def _historical(self, doc: Doc, span: Span, triggers) -> bool:
        for start, end in triggers.get("HIST", []):
            if not self._usable(start, end, (), triggers):
                continue
            phrase = doc[start:end].text.lower()
            if start > 0 and doc[start - 1].lower_ in HISTORY_CANCELLED_BY:
                continue
            if _progressive(doc, end):
                continue  # "splashed up when I was doing the loo": what was going on, not a time of life
            clause = _clause(doc, min(start, span.start), max(end, span.end))
            if phrase in HISTORY_WEAK and any(t.lower_ in HISTORY_CANCELLED_BY for t in clause):
                continue
            if end <= span.start and _same_clause(doc, end, span.start):
                return True
            if start >= span.end and _same_clause(doc, span.end, start):
                return True
        return False

    def _family(self, doc: Doc, span: Span, triggers) -> bool:
        for start, end in triggers.get("FAM", []):
            if _same_clause(doc, min(end, span.start), max(start, span.end)):
                return True
        clause = _clause(doc, span.start, span.end)
        words = [t.lower_ for t in clause]
        before = [t.lower_ for t in clause if t.i < span.start]
        relative = max((i for i, w in enumerate(before) if w in RELATIVES), default=None)
        if relative is None or any(w in SELF for w in before[relative:]):
            return False  # "my mum died of a stroke and I have a headache": the headache is mine
        if any(
            w in RECENT for w in words[relative:]
        ):  # "just a bit worried: my uncle had one" is still history
            return False
        return any(_family_verb(t) for t in clause) and not _has_present_perfect(clause)

    def _hypothetical(self, doc: Doc, span: Span, triggers) -> bool:
        if any(
            start >= span.start and (end >= len(doc) or doc[end].lower_ not in CLAIM_OTHERWISE)
            for start, end in triggers.get("HYPO_CLAIM", [])
        ):
            return False
        for start, end in triggers.get("HYPO_PRE", []):
            if (
                self._usable(start, end, (), triggers)
                and end <= span.start
                and _same_clause(doc, end, span.start)
            ):
                return True
        for start, end in triggers.get("HYPO_POST", []):
            if self._usable(start, end, (), triggers) and span.end <= start <= span.end + 1:
                return True
        return False


def _progressive(doc: Doc, end: int) -> bool:
    """A history phrase ending in "was"/"were" followed by an -ing verb tells what was going on at the time."""
    return 0 < end < len(doc) and doc[end - 1].lower_ in ("was", "were") and doc[end].lower_.endswith("ing")


def _family_verb(token) -> bool:
    """ "Grandad had a stroke", "mum passed away"; "passed out" is fainting, not a death."""
    if token.lower_ == "passed" and token.i + 1 < len(token.doc) and token.doc[token.i + 1].lower_ == "out":
        return False
    return token.lower_ in FAMILY_VERBS


def _is_pregnancy_stage(doc: Doc, span: Span) -> bool:
    """ "20 weeks pregnant", "pregnant 16 weeks": how far along a pregnancy is, not how long a symptom has lasted."""
    near = {doc[i].lower_ for i in (span.start - 1, span.end) if 0 <= i < len(doc)}
    return bool(near & {"pregnant", "pregnancy", "preg", "gestation"})


def _without_vague_baby_age(findings: List[Finding]) -> List[Finding]:
    """ "baby 2 weeks old": the stated age decides; "baby" alone (a child of unknown age) then says nothing."""
    vague = [f for f in findings if f.entity == "age_group" and f.text.lower() in VAGUE_BABY_WORDS]
    if not vague or len(vague) == len([f for f in findings if f.entity == "age_group"]):
        return findings
    starts = {f.start for f in vague}
    return [
        f
        for f in findings
        if not (f.start in starts and (f.entity == "age_group" or f.id == "baby_age_unknown"))
    ]


def _without_normal_temperature(
    findings: List[Finding], measurements: Sequence[Measurement], bands: Sequence[Band]
) -> List[Finding]:
    """ "temp 37.4" names a normal temperature (one no band of measurements.yml makes a finding of): a fever word
    inside that reading, or told before it ("39.2 this morning, now 37.5"), is not a fever now (measurements keep
    only the latest reading of a kind)."""
    normal = [m for m in measurements if m.kind == "temperature_c" and not findings_for(m, bands)]
    if not normal:
        return findings
    return [
        f for f in findings if not (f.id in ("fever", "high_fever") and any(f.start < m.end for m in normal))
    ]


def _sites_near(doc: Doc, ents: List[Span], pain_index: int, used: Set[int]) -> List[int]:
    """Body sites within six tokens of a pain word in the same clause ("pain on one side of my tummy")."""
    pain = ents[pain_index]
    near: List[Tuple[int, int]] = []
    for j, ent in enumerate(ents):
        if ent.label_ != SITE or j in used:
            continue
        distance = ent.start - pain.end if ent.start >= pain.end else pain.start - ent.end
        if distance > 6:
            continue
        lo, hi = (pain.end, ent.start) if ent.start >= pain.end else (ent.end, pain.start)
        if any(doc[t].lower_ in HARD_BREAKS or doc[t].is_sent_start for t in range(lo, hi)):
            continue
        if any(_blocks_join(doc[t]) for t in range(lo, hi)):
            continue
        near.append((distance, j))
    nearest = [j for _, j in sorted(near)[:2]]
    if len(nearest) == 2:  # "the left side of my chest": the part the side belongs to, not the side itself
        first, second = sorted(nearest, key=lambda j: ents[j].start)
        if all(doc[t].lower_ in _PART_OF for t in range(ents[first].end, ents[second].start)):
            return [second]
    return nearest


_PART_OF = frozenset({"of", "my", "the", "his", "her", "their", "your", "our"})


def _hurts(ent: Span) -> bool:
    """A pain word, or how bad a pain is ("really painful", "so sore"): either joins the body part it is about."""
    return ent.label_ == PAIN or (ent.label_ == "SEVERITY" and any(t.norm_ in PAIN_WORDS for t in ent))


def _blocks_join(token) -> bool:
    """Another finding between a site and a pain word keeps them apart; how or since when it hurts does not
    ("my eye suddenly became really painful", "my knee since Monday is sore")."""
    return bool(token.ent_type_) and not (
        token.ent_type_ in (SITE, PAIN, "SEVERITY", DURATION, HARM) or token.ent_id_ in MODIFIERS
    )


def _tells_a_pregnancy(ent: Span) -> bool:
    return ent.label_ == PREGNANCY or ent.ent_id_ == "pregnancy_possible"


def _is_complaint(found: str) -> bool:
    """A candidate that says what is wrong, not only how, since when, or who (modifiers, durations, risk factors)."""
    return (
        found not in MODIFIERS and found not in (AGE, DURATION, PREGNANCY) and not found.startswith("risk_")
    )


def _ends_a_sentence(token) -> bool:
    """A full stop, question or exclamation mark, semicolon or a new sentence (a comma only ends a clause)."""
    return token.text in (".", "!", "?", ";") or (token.is_sent_start and token.i > 0)


def _is_break(token) -> bool:
    return token.lower_ in HARD_BREAKS or token.is_sent_start


def _same_clause(doc: Doc, lo: int, hi: int) -> bool:
    """No clause break between token lo (inclusive) and token hi (exclusive), nor a new sentence at hi."""
    crossing = any(_is_break(doc[t]) for t in range(lo, hi))
    return not crossing and not (lo < hi < len(doc) and doc[hi].is_sent_start)


def _clause(doc: Doc, start: int, end: int) -> Span:
    lo = start
    while lo > 0 and not doc[lo].is_sent_start and doc[lo - 1].lower_ not in HARD_BREAKS:
        lo -= 1
    hi = end
    while hi < len(doc) and not _is_break(doc[hi]):
        hi += 1
    return doc[lo:hi]


def _in_scope_after(doc: Doc, trigger_end: int, target: int) -> bool:
    """A negation scopes forward to the target unless a clause break or a new subject/verb comes first; a list
    keeps it going ("no fever, headache or rash": none of the three)."""
    if target - trigger_end > PRE_WINDOW:
        return False
    if (
        0 < trigger_end < len(doc)
        and doc[trigger_end - 1].lower_ in VERDICT_NEGATIONS
        and doc[trigger_end].text == ","
    ):
        return False
    if _is_negated_list(doc, trigger_end, target):
        return True
    if doc[trigger_end - 1].lower_ in NOT_WORDS and any(
        doc[t].lower_ == "and" for t in range(trigger_end, target)
    ):
        return False  # "not sweating and confused": after a bare "not", "and" adds what is there
    if any(
        doc[t].lower_ == "and" and t + 1 <= target and _past_verb(doc[t + 1])
        for t in range(trigger_end, target)
    ):
        return False  # "no helmet and hit his head": "and" then a new action ends what "no" denied
    # "not sweating talking nonsense": a second verb with no "or" between starts a new thought
    if target - 1 >= trigger_end and all(doc[t].lower_.endswith("ing") for t in (target - 1, target)):
        return False
    for t in range(trigger_end, target):
        if _is_break(doc[t]) or (doc[t].lower_ in SOFT_BREAKS and t > trigger_end):
            return False
        if doc[t].lower_ == "and" and t + 1 < len(doc) and doc[t + 1].lower_ in NEW_SUBJECT:
            return False  # "can't get her words out and her face looks lopsided"
    return not _run_on_clause(doc, trigger_end, target)


def _affirming_without(doc: Doc, trigger_start: int) -> bool:
    """ "I can't swing my arm without my shoulder hurting": it hurts."""
    if doc[trigger_start].lower_ != "without":
        return False
    for t in range(trigger_start - 1, max(-1, trigger_start - PRE_WINDOW), -1):
        if _is_break(doc[t]):
            return False
        if doc[t].lower_ in DOUBLE_NEGATION_BEFORE_WITHOUT:
            return True
    return False


def _past_verb(token) -> bool:
    return token.lower_ in PAST_VERBS or (token.lower_.endswith("ed") and len(token) > 4)


def _run_on_clause(doc: Doc, trigger_end: int, target: int) -> bool:
    """ "can't reach the top cupboard my shoulder hurts": a possessive after a finished noun phrase, with no
    preposition or joining word before it, starts a new sentence the negation does not reach ("no pain in the
    back of my leg" keeps its "of")."""
    words = [doc[t].lower_ for t in range(trigger_end, target)]
    for index, word in enumerate(words):
        if word not in POSSESSIVES or index < 2:
            continue
        before = words[:index]
        opened = [i for i, w in enumerate(before) if w in DETERMINERS]
        if opened and opened[-1] < index - 1 and before[-1] not in LINKING_WORDS:
            return True
    return False


def _still_pregnant(entity: str, span: Span) -> bool:
    """ "a positive test last week", "my period is 3 weeks late", "found out I'm pregnant last week": past words,
    a pregnancy now."""
    if entity != "pregnant":
        return False
    said_now = span.start > 0 and span.doc[span.start - 1].lower_ in PRESENT_BE
    return said_now or any(t.lower_ in ("positive", "late", "missed") for t in span)


def _is_negated_list(doc: Doc, trigger_end: int, target: int) -> bool:
    """Between a negation and the target only other findings, commas and or/nor/and: one negated list. After a
    bare "not" the list must say or/nor: "not sweating, confused" is two things, one of them denied."""
    between = range(trigger_end, target)
    if (
        trigger_end
        and doc[trigger_end - 1].lower_ in NOT_WORDS
        and not any(doc[t].lower_ in ("or", "nor") for t in between)
    ):
        return False
    return any(doc[t].text == "," for t in between) and all(
        doc[t].text == "," or doc[t].lower_ in LIST_WORDS or doc[t].ent_type_ for t in between
    )


def _in_scope_before(doc: Doc, target_end: int, trigger_start: int) -> bool:
    """'the headache has gone' — but not 'a headache for 2 days since I stopped coffee' (a new subject)."""
    if trigger_start - target_end > POST_WINDOW:
        return False
    return not any(
        _is_break(doc[t]) or doc[t].lower_ in POST_BREAKS for t in range(target_end, trigger_start)
    )


def _has_present_perfect(clause: Span) -> bool:
    """'my dad has had chest pain since lunch' is about now, not family history."""
    words = [t.lower_ for t in clause]
    return any(a in ("has", "'s", "have") and b == "had" for a, b in zip(words, words[1:]))


def _number(text: str) -> Optional[float]:
    text = text.lower().replace(",", "")
    try:
        return float(text)
    except ValueError:
        return _WORD_NUMBERS.get(text)


def _unit_days(word: str) -> Optional[float]:
    word = word.lower().rstrip(".")
    for unit, days in _UNIT_DAYS.items():
        if word in (unit, unit + "s"):
            return days
    return None


def age_days(span: Span) -> Optional[float]:
    """Age in days from an AGE match with a number: '6 week old' -> 42, '4yo' -> 1460, "I'm 70" -> 25550."""
    words = [t.text.lower() for t in span]
    doc = span.doc
    value: Optional[float] = None
    unit = 365.0
    for word in words:
        glued = re.match(r"^(\d+(?:\.\d+)?)(yo|y/o|yrs?|mo|mths?|wks?)$", word)
        if glued:
            value, unit = float(glued.group(1)), _unit_days(glued.group(2).replace("y/o", "yo")) or 365.0
        elif value is None and _number(word) is not None:
            value = _number(word)
        elif value is not None and _unit_days(word) is not None:
            unit = _unit_days(word) or unit
    if value is None:
        return None
    next_word = doc[span.end].lower_ if span.end < len(doc) else ""
    if len(span) == 2 and span[1].like_num and _unit_days(next_word) is not None:
        return None  # "my dad 2 days ago": a time after the person, not an age
    if unit == 365.0 and _unit_days(next_word) is not None:
        if next_word.startswith(("week", "month", "day")) and span[0].lower_ in ("i", "im"):
            return None  # "I'm 30 weeks pregnant", "I'm 3 days late" are not ages
        unit = _unit_days(next_word) or unit
    return value * unit


def age_group(span: Span) -> Optional[str]:
    """infant / child / adult from an AGE match: '6 week old' -> infant, '4yo' -> child, "I'm 70" -> adult."""
    if span.ent_id_ in ("infant", "child", "adult"):
        return span.ent_id_
    if span.ent_id_ == "older":
        return "adult"
    if span.ent_id_ in ("baby", "under_5"):
        return "child"
    days = age_days(span)
    if days is None:
        return None
    return age_group_for_days(days)


def duration_days(span: Span) -> Optional[float]:
    """Days a DURATION match stands for: 'for 3 weeks' -> 21, 'since yesterday' -> 1, 'a couple of days' -> 2."""
    words = [t.lower_ for t in span]
    for i, word in enumerate(words):
        days = _unit_days(word)
        if days is None or i == 0:
            continue
        count = next((_number(w) for w in reversed(words[:i]) if _number(w) is not None), None)
        if count is not None:
            return count * days
    for word in reversed(words):
        if word in _WORD_DAYS:
            return _WORD_DAYS[word]
    return None
