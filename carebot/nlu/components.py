"""Rasa NLU components backed by a blank spaCy pipeline (no model download is possible, nor needed).

`PatternEntityExtractor` turns the designers' pattern files into Rasa entities; triage labels go through the
findings pipeline (carebot/nlu/findings.py) so "no chest pain" arrives as a `symptom` with role `negated`.
`RedFlagClassifier`, last in the pipeline, screens every message against the red flags of data/triage/ and marks
an emergency with the `red_flag` intent whatever the classifier thought, so RedFlagPolicy answers it first.
Pattern and protocol files are copied into the trained model at training time, so a model is self-contained and a
running server never reads `data/` again.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Text, Tuple

import spacy
import yaml
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import RESPONSE_SELECTOR_PROPERTY_NAME
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from spacy.matcher import PhraseMatcher

from carebot.clinic import load_clinic
from carebot.nlu.findings import (
    MODIFIERS,
    Finding,
    build_findings_pipeline,
    current_ids,
    denied_ids,
    profile_from,
)
from carebot.triage.engine import screen_emergency
from carebot.triage.loader import DURATION_FINDINGS, load_protocols
from carebot.triage.model import ProtocolSet

# Labels the findings pipeline owns (with context roles); any other label (MEDICINE, …) stays a plain entity,
# except EVERYDAY: phrases that only exist to keep their symptom words from making a finding ("a fit note").
TRIAGE_LABELS = frozenset(
    {"SYMPTOM", "SEVERITY", "RISK", "BODY_SITE", "PAIN", "AGE", "DURATION", "PREGNANCY"}
)
EVERYDAY_LABEL = "EVERYDAY"
# The services of clinic.yml as entities: `clinic_service` (value: the service id) for what it offers, by name and
# alias, and `unoffered_service` (value: the entry's id) for what it lists under `not_offered`. Written into the
# model (so it stays self-contained) and matched on their own, apart from the findings pipeline: service words must
# not change how symptoms are read (its typo correction is against the pattern words).
SERVICE_LABEL = "CLINIC_SERVICE"
UNOFFERED_LABEL = "UNOFFERED_SERVICE"
SERVICES_FILE = "services/clinic_services.yml"  # in a folder of its own: not a file of the findings pipeline
FINDINGS = "carebot_findings"  # message property: the Finding tuple, read by RedFlagClassifier (not output)
# Message property set by DomainGuard when it declined a message whose only health words are everyday ones ("set the
# oven temperature"): RedFlagClassifier then leaves it declined instead of reading a complaint into it.
DECLINED_BY_GUARD = "carebot_declined_by_guard"
# How a complaint has gone: how long, getting worse, back again, not helped by treatment. With a complaint, the
# message is a symptom story whatever a question intent the classifier guessed ("hay fever meds aren't helping").
COURSE_FINDINGS = frozenset(DURATION_FINDINGS) | {
    "worsening",
    "not_improving",
    "recurrent",
    "treatment_not_working",
}
# Findings that qualify a complaint but are none on their own ("for a few days", "my 4 month old", "suddenly", "in a
# moment", "isn't helping": a modifier or a course alone is "what goes in a curry" or "this isn't helping, get me a
# human" as often as a symptom story); risk factors ("I'm on warfarin", ids starting with RISK_PREFIX) too.
NOT_A_COMPLAINT = COURSE_FINDINGS | frozenset(MODIFIERS) | {"baby_age_unknown", "age_3_to_6_months"}
RISK_PREFIX = "risk_"
# Who a parent writes about: with no complaint the patterns know, a message about them is still a health question
# when it says how young they are ("my 2 year old", "baby 10 weeks"); "my daughter" alone says nothing of health.
CHILD_AGE_GROUPS = frozenset({"infant", "child"})
_YOUNG_WORDS = re.compile(r"\d|\b(?:baby|babies|newborn|toddler|infant)\b", re.I)


# "my ear", "his left knee", "mum's back": a body part someone's own, not "a joint account" or "the splinter site".
_OWNED_BEFORE = re.compile(r"\b(?:my|his|her|their|our|your|\w+'s)\s+(?:\w+\s+)?$")


def _a_young_childs_age(finding: Finding) -> bool:
    return (
        finding.entity == "age_group"
        and finding.current
        and finding.id in CHILD_AGE_GROUPS
        and bool(_YOUNG_WORDS.search(finding.text))
    )


def _told_as_own(text: str, finding: Finding) -> bool:
    return bool(_OWNED_BEFORE.search(text[: finding.start].lower()))


# First words of a question ("how much is…", "can I…", "do you…"); a "?" anywhere makes one too.
_QUESTION_OPENERS = frozenset(
    "how what when where which who why can could do does did is are will would should may am".split()
)


def asks_a_question(text: str) -> bool:
    """A question mark, or a question's first word: a message asking about something, not telling it."""
    first = re.findall(r"[a-z']+", text.lower())[:1]
    return "?" in text or bool(first and first[0] in _QUESTION_OPENERS)


def _any_of(phrases: Sequence[str], before: str = "") -> "re.Pattern[str]":
    """One expression matching any of the phrases as whole words (never matching when there are none)."""
    alternatives = "|".join(re.escape(p) for p in phrases) or "(?!)"
    return re.compile(rf"{before}\b(?:{alternatives})\b")


def no_patient_reader(config: Dict[Text, Any]) -> Callable[[str], bool]:
    """Whether a message names nobody whose complaint it could be: a knowledge question about no one in particular
    ("why do onions make your eyes water", "spell diarrhoea": one of `general_openers`, none of `personal_words`),
    or an animal's or a plant's trouble ("my cat keeps sneezing", "the tomato plants are going yellow": one of
    `not_a_patient` after "my", "the" …, none of `patient_markers` such as "me", "my son" or "bitten"; "sick as a
    dog" names no dog). The word lists are compiled once, not per message."""
    openers = tuple(config["general_openers"])
    personal = _any_of(config["personal_words"])
    owned = _any_of(config["not_a_patient"], before=r"\b(?:my|our|the|his|her|their|your)\s+(?:\w+\s+)?")
    markers = _any_of(config["patient_markers"])

    def names_no_patient(text: str) -> bool:
        lowered = " ".join(re.findall(r"[a-z0-9']+", text.lower()))
        opener = next((o for o in openers if lowered == o or lowered.startswith(o + " ")), None)
        if opener is not None and not personal.search(lowered[len(opener) :]):
            return True  # the opener's own words ("tell me about") name no patient
        return bool(owned.search(lowered)) and not markers.search(lowered)

    return names_no_patient


def answer_key(message: Message, intent: Optional[Text]) -> Optional[Text]:
    """The retrieval answer the ResponseSelector picked for `intent` ("faq/cost"), if it is one."""
    selected = (message.get(RESPONSE_SELECTOR_PROPERTY_NAME) or {}).get(intent or "") or {}
    return (selected.get("response") or {}).get(INTENT_RESPONSE_KEY)


def is_complaint(finding_id: str) -> bool:
    return finding_id not in NOT_A_COMPLAINT and not finding_id.startswith(RISK_PREFIX)


def hash_yaml_files(*directories: Path) -> str:
    """One digest over every `*.yml` of the directories (names and contents)."""
    digest = hashlib.sha256()
    for directory in directories:
        for file in sorted(Path(directory).glob("*.yml")):
            digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def code_digest() -> str:
    """One digest over this package's code and the lexicon it reads: what a trained component stored can depend on
    it, and Rasa's cache only fingerprints config and data, so a changed component would otherwise be restored from
    the cache."""
    digest = hashlib.sha256()
    carebot = Path(__file__).parent.parent
    for file in sorted([*carebot.joinpath("nlu").glob("*.py"), *carebot.joinpath("lexicon").glob("*.py")]):
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def write_service_patterns(clinic_file: Path, target: Path) -> None:
    """One phrase per name and alias of clinic.yml's services ("jab" → clinic_service: nurse) and per alias of
    its `not_offered` ones ("dentist" → unoffered_service: dental)."""
    clinic = load_clinic(clinic_file)
    offered = [(SERVICE_LABEL, s.id, word) for s in clinic.services for word in (s.name, *s.aliases)]
    unoffered = [(UNOFFERED_LABEL, s.id, word) for s in clinic.not_offered for word in s.aliases]
    patterns = [
        {"label": label, "id": service_id, "pattern": word.lower()}
        for label, service_id, word in offered + unoffered
    ]
    (target / SERVICES_FILE).parent.mkdir(exist_ok=True)
    (target / SERVICES_FILE).write_text(yaml.safe_dump(patterns, sort_keys=False), encoding="utf-8")


def service_matcher(nlp: spacy.language.Language, directory: Path) -> Optional[PhraseMatcher]:
    """The services file of a trained model as a phrase matcher on normalised words ("jabs" is "jab"); None when
    there is none."""
    file = directory / SERVICES_FILE
    if not file.exists():
        return None
    matcher = PhraseMatcher(nlp.vocab, attr="NORM")
    for entry in yaml.safe_load(file.read_text(encoding="utf-8")) or []:
        matcher.add(f"{entry['label']}|{entry['id']}", [nlp(entry["pattern"])])
    return matcher


def service_entities(matcher: Optional[PhraseMatcher], doc: spacy.tokens.Doc) -> List[Dict[str, Any]]:
    """The services a message names, longest match first where they overlap ("practice nurse" over "nurse")."""
    if matcher is None:
        return []
    spans = spacy.util.filter_spans(
        [spacy.tokens.Span(doc, start, end, label=key) for key, start, end in matcher(doc)]
    )
    return [
        {
            "entity": span.label_.split("|")[0].lower(),
            "value": span.label_.split("|")[1],
            "start": span.start_char,
            "end": span.end_char,
            "confidence": 1.0,
        }
        for span in spans
    ]


def copy_yaml_files(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for file in sorted(Path(source).glob("*.yml")):
        shutil.copy(file, target / file.name)


class TrainedComponent(GraphComponent):
    """The base of Carebot's trainable NLU components: `create` starts untrained, `load` rebuilds what `train` wrote
    to the component's model storage (`from_storage`), and a change to this code retrains them (`code_digest`)."""

    def __init__(
        self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, trained: Any = None
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._set_trained(trained)

    def _set_trained(self, trained: Any) -> None:
        """Keep what training produced (None before training)."""
        raise NotImplementedError

    @classmethod
    def from_storage(cls, config: Dict[Text, Any], directory: Path) -> Any:
        """What `train` wrote to `directory`, ready to use."""
        raise NotImplementedError

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        return code_digest()

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "TrainedComponent":
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "TrainedComponent":
        with model_storage.read_from(resource) as directory:
            return cls(config, model_storage, resource, cls.from_storage(config, directory))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


def entities_from(doc: spacy.tokens.Doc) -> List[Dict[str, Any]]:
    """Findings as entities (with their role when not current), then every non-triage match as it is."""
    entities = [finding.as_entity() for finding in doc._.findings]
    entities += [
        {
            "entity": ent.label_.lower(),
            "value": ent.ent_id_ or ent.text.lower(),
            "start": ent.start_char,
            "end": ent.end_char,
            "confidence": 1.0,
        }
        for ent in doc.ents
        if ent.label_ not in TRIAGE_LABELS and ent.label_ != EVERYDAY_LABEL
    ]
    return sorted(entities, key=lambda e: e["start"])


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class PatternEntityExtractor(TrainedComponent, EntityExtractorMixin):
    """Entities from `data/patterns/*.yml`.

    Triage labels become findings (`symptom` / `age_group` / `pregnant`, value = finding id, `role` negated /
    family / historical / hypothetical when not current), one entity per finding; any other label is the pattern's
    label in lower case with its `id` as value (`medicine: metformin`). With `clinic_file`, that clinic's services
    are patterns too (`clinic_service: nurse`), and those it does not offer (`unoffered_service: dental`).
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"patterns_dir": "data/patterns", "clinic_file": None}

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """Pattern files are not Rasa training data: hashing them makes `rasa train` retrain when they change."""
        config = {**cls.get_default_config(), **config}  # Rasa may pass a node's config without the defaults
        clinic_file = config["clinic_file"]
        clinic = hashlib.sha256(Path(clinic_file).read_bytes()).hexdigest() if clinic_file else ""
        return hash_yaml_files(Path(config["patterns_dir"])) + clinic + code_digest()

    def _set_trained(
        self, trained: Optional[Tuple[spacy.language.Language, Optional[PhraseMatcher]]]
    ) -> None:
        """The findings pipeline and the clinic-service matcher built from the stored pattern files."""
        self._nlp: Optional[spacy.language.Language] = trained[0] if trained is not None else None
        self._services: Optional[PhraseMatcher] = trained[1] if trained is not None else None

    @classmethod
    def from_storage(
        cls, config: Dict[Text, Any], directory: Path
    ) -> Tuple[spacy.language.Language, Optional[PhraseMatcher]]:
        nlp = build_findings_pipeline(directory)
        return nlp, service_matcher(nlp, directory)

    def train(self, training_data: TrainingData) -> Resource:
        """Copies the pattern files into the model so serving never depends on the working tree."""
        source = Path(self._config["patterns_dir"])
        with self._model_storage.write_to(self._resource) as directory:
            copy_yaml_files(source, directory)
            if self._config.get("clinic_file"):
                write_service_patterns(Path(self._config["clinic_file"]), directory)
            self._set_trained(self.from_storage(self._config, directory))
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            doc = self._nlp(text) if text.strip() else None
            found = entities_from(doc) + service_entities(self._services, doc) if doc is not None else []
            message.set(FINDINGS, tuple(doc._.findings) if doc is not None else ())
            message.set(
                ENTITIES, message.get(ENTITIES, []) + self.add_extractor_name(found), add_to_output=True
            )
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class RedFlagClassifier(TrainedComponent):
    """Last in the pipeline: the red-flag screen decides the `red_flag` intent, not the statistical classifier.

    - a current red flag in the message (with the age/pregnancy it states) → intent `red_flag` (confidence 1.0)
      and an entity `red_flag` whose value is the flag id;
    - `red_flag` predicted by the classifier but not confirmed by the screen ("no chest pain") → the symptom
      intent, so a negated or past emergency is triaged instead of escalated;
    - a message that tells a current symptom but was classified as an intent that cannot carry one
      (`symptom_overrides`: fallback, greet, a bare yes/no/option, a photo or location pin …; `answer_overrides`:
      a clinic answer about money or paperwork such as `faq/cost`, when the complaint is told in a statement or
      with another one) or as anything with a confidence under
      `override_below` (except `never_override`) → the symptom intent, so "hi, my ear hurts" or "earache for
      10 days" starts triage.
    Needs PatternEntityExtractor earlier in the pipeline (it leaves the findings on the message).
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "triage_dir": "data/triage",
            "patterns_dir": "data/patterns",
            "intent": "red_flag",
            "symptom_intent": "describe_symptoms",
            "symptom_overrides": [
                "nlu_fallback",
                "out_of_scope",
                "greet",
                "goodbye",
                "thank",
                "help",
                "inform",
                "affirm",
                "deny",
                "choose_option",
                "more_options",
                "bot_challenge",
                # what an attachment or a location pin means, never a sentence about one's health
                "send_media",
                "share_location",
            ],
            # Clinic answers about money, paperwork and service: a complaint told in a statement, or more than
            # one, is a symptom story the classifier misread ("itchy rash on my hands for a week, no idea what to
            # do"); a question that names one stays ("how much is a hay fever prescription"). Answers about
            # one's care (a sick note, a home visit, a repeat prescription, test results) are not listed: they
            # may name a complaint and still mean what they ask.
            "answer_overrides": [
                "faq/cost",
                "faq/cancel_late",
                "faq/registration",
                "faq/interpreter",
                "faq/medical_records",
                "faq/complaint",
            ],
            "override_below": 0.6,
            # A message naming no patient is not a symptom story (see no_patient_reader); the lists are in
            # config.yml. A red flag in it is still answered at once.
            "general_openers": [],
            "personal_words": [],
            "not_a_patient": [],
            "patient_markers": [],
            # The intent a symptom guess naming no patient gets.
            "decline_intent": "out_of_scope",
            # Intents a body part alone overrides: the declines.
            "site_overrides": ["nlu_fallback", "out_of_scope"],
            # Requests that may name a symptom and still mean what they say ("book the GP about my back").
            "never_override": [
                "book_appointment",
                "reschedule_appointment",
                "cancel_appointment",
                "set_reminder",
                "ask_human",
            ],
        }

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """Protocol files are not Rasa training data: a changed red flag must retrain the model."""
        config = {**cls.get_default_config(), **config}
        return hash_yaml_files(Path(config["triage_dir"]), Path(config["patterns_dir"])) + code_digest()

    def _set_trained(self, protocols: Optional[ProtocolSet]) -> None:
        self._protocols = protocols
        self._names_no_patient = no_patient_reader({**self.get_default_config(), **self._config})

    @classmethod
    def from_storage(cls, config: Dict[Text, Any], directory: Path) -> ProtocolSet:
        return load_protocols(directory / "triage", directory / "patterns")

    def train(self, training_data: TrainingData) -> Resource:
        """Copies (and validates) the protocol and pattern files: a broken protocol fails `rasa train`."""
        with self._model_storage.write_to(self._resource) as directory:
            copy_yaml_files(Path(self._config["triage_dir"]), directory / "triage")
            copy_yaml_files(Path(self._config["patterns_dir"]), directory / "patterns")
            self._protocols = self.from_storage(self._config, directory)
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            findings: Sequence[Finding] = message.get(FINDINGS) or ()
            current = current_ids(findings)
            flag = (
                screen_emergency(current, profile_from(findings), denied_ids(findings), self._protocols)
                if current
                else None
            )
            intent = message.get(INTENT) or {}
            if flag is not None:
                self._set_intent(message, self._config["intent"])
                entity = {
                    "entity": "red_flag",
                    "value": flag.id,
                    "start": 0,
                    "end": len(message.get(TEXT) or ""),
                    "confidence": 1.0,
                    "extractor": self.__class__.__name__,
                }
                message.set(ENTITIES, message.get(ENTITIES, []) + [entity], add_to_output=True)
            elif self._names_no_patient(message.get(TEXT) or ""):
                if intent.get("name") in (self._config["intent"], self._config["symptom_intent"]):
                    self._set_intent(message, self._config["decline_intent"])
            elif intent.get("name") == self._config["intent"] or self._misread_complaint(
                current_ids(f for f in findings if not f.site_only),
                current_ids(f for f in findings if f.site_only and _told_as_own(message.get(TEXT) or "", f))
                + [f.id for f in findings if _a_young_childs_age(f)],
                intent,
                bool(message.get(DECLINED_BY_GUARD)),
                answer_key(message, intent.get("name")),
                asks_a_question(message.get(TEXT) or ""),
            ):
                self._set_intent(message, self._config["symptom_intent"])
        return messages

    def _misread_complaint(
        self,
        current: Sequence[str],
        sites: Sequence[str],
        intent: Dict[str, Any],
        declined: bool,
        answer: Optional[str],
        asks: bool,
    ) -> bool:
        """A current complaint told, and the classifier's intent cannot hold one, is a guess, or is not a request
        while the message tells how the complaint has gone ("can't sleep for 3 months", "hay fever meds aren't
        helping": not questions about costs, whatever the classifier says). A body part named
        with no complaint word the patterns know ("my shoulder won't move right"), or one's baby or child ("my 2 year
        old only says a few words, is that normal?"), counts only against an intent that declines: a message about
        one's own body or child is not out of scope, but it does not overrule a request."""
        name = intent.get("name")
        if name == self._config["symptom_intent"] or name in self._config["never_override"] or declined:
            return False
        complaints = [f for f in current if is_complaint(f)]
        if not complaints:
            return bool(sites) and name in self._config["site_overrides"]
        return (
            intent.get("name") in self._config["symptom_overrides"]
            or (answer in self._config["answer_overrides"] and (len(complaints) > 1 or not asks))
            or float(intent.get("confidence") or 0.0) < self._config["override_below"]
            or any(f in COURSE_FINDINGS for f in current)  # a complaint with its course is a symptom story
        )

    @staticmethod
    def _set_intent(message: Message, name: str) -> None:
        """The intent with confidence 1.0, first in the ranking (the classifier's other guesses kept after it)."""
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != name]
        message.set(INTENT, {"name": name, "confidence": 1.0}, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [{"name": name, "confidence": 1.0}] + ranking, add_to_output=True)
