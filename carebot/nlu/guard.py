"""Guards after the intent classifier that overrule a confident guess the message gives no ground for.

`VocabularyGuard`: a message with no word the bot was trained on goes to the fallback, whatever its confidence.
`DomainGuard`: a message classified as a clinic intent but with no health entity and none of that intent's
distinctive words is out of scope ("how do I register my car" is not `faq`, "my boiler is leaking" is not a symptom).
Both sit after FallbackClassifier and before the red-flag check, which outranks everything.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Text, Tuple

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import (
    RESPONSE_SELECTOR_PREDICTION_KEY,
    RESPONSE_SELECTOR_PROPERTY_NAME,
    RESPONSE_SELECTOR_RANKING_KEY,
    RESPONSE_SELECTOR_RESPONSES_KEY,
    RESPONSE_SELECTOR_UTTER_ACTION_KEY,
    TOKENS_NAMES,
)
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    INTENT,
    INTENT_RANKING_KEY,
    INTENT_RESPONSE_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.nlu.training_data.util import intent_response_key_to_template_key

from carebot.nlu.components import (
    DECLINED_BY_GUARD,
    TrainedComponent,
    answer_key,
    asks_a_question,
    is_complaint,
)
from carebot.nlu.vocabulary import Vocabulary, Words, distinctive_words, phrases_of, vocabulary_of, words

VOCABULARY_FILE = "vocabulary.json"
LEARNED_FILE = "domain_guard.json"


def message_words(message: Message) -> List[str]:
    """The words of the message as the tokenizer read them ("whats ur" → "what is your", "clinic's" → "clinic")."""
    return [w for token in message.get(TOKENS_NAMES[TEXT]) or [] for w in words(token.text)]


def _overrule(message: Message, intent_name: Text) -> None:
    """Sets `intent_name` with full confidence, keeping the classifier's ranking below it for inspection."""
    intent = {"name": intent_name, "confidence": 1.0}
    message.set(INTENT, intent, add_to_output=True)
    ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != intent_name]
    message.set(INTENT_RANKING_KEY, [intent, *ranking], add_to_output=True)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class VocabularyGuard(TrainedComponent):
    """Learns the words of the training examples; sends messages with none of them to `nlu_fallback`."""

    def _set_trained(self, vocabulary: Optional[Vocabulary]) -> None:
        self._vocabulary = vocabulary or Vocabulary(())

    @classmethod
    def from_storage(cls, config: Dict[Text, Any], directory: Path) -> Vocabulary:
        return Vocabulary(json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8")))

    def train(self, training_data: TrainingData) -> Resource:
        known = vocabulary_of(message_words(example) for example in training_data.intent_examples)
        with self._model_storage.write_to(self._resource) as directory:
            (directory / VOCABULARY_FILE).write_text(json.dumps(known), encoding="utf-8")
        self._vocabulary = Vocabulary(known)
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if message.get(ENTITIES) or self._vocabulary.knows_any(message_words(message)):
                continue
            _overrule(message, DEFAULT_NLU_FALLBACK_INTENT_NAME)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class DomainGuard(TrainedComponent):
    """Demotes a clinic intent to `decline_intent` when the message shows no sign of the clinic's domain.

    A linear classifier matches on everyday words a clinic intent shares with anything else ("how do I", "cancel
    my", "where is"), so it sends "how do I register my car" to `faq`. What counts is learned from the training
    data, not listed here (see `distinctive_words`), per checked intent:
    - evidence: a health entity from the patterns, or one of the intent's distinctive words (frequent in its
      examples, rare in the `decline_intent` examples);
    - counter-evidence: words distinctive of the `decline_intent` examples that the intent's own examples never use
      ("car", "flight", "recipe").
    A message with no evidence, or with more counter-evidence than evidence, is demoted. `lenient_intents` (made of
    everyday words, like help's "what can you do") are demoted on counter-evidence only. Intents not listed are
    never checked, so answers inside a form ("tuesday", "yes", "the second one") keep their intent. Demotion gives
    `out_of_scope` (the polite "can't help with that"), not `nlu_fallback`: declined requests do not count towards
    the two-fallbacks handoff.

    A health entity settles it, unless the `decline_intent` examples use its words too: "temperature" in "set the
    oven temperature", "boil" in "how long do I boil an egg". Such an everyday health word is weighed like a
    distinctive word; when the classifier chose an unchecked intent, it is weighed for `symptom_intent`, and a
    message that fails is marked `DECLINED_BY_GUARD` so RedFlagClassifier does not read a complaint into it. A
    retrieval intent (`faq`) is weighed twice: as a whole, and for the answer the ResponseSelector picked
    (`faq/cost` needs cost words, not just any clinic word). For `unknown_words_against` intents, a word no
    training example uses counts as counter-evidence, at `unknown_word_weight` (less than a known word for the
    intent: "what's the clinic's postcode" keeps its intent, "where is the colosseum in rome" does not).

    When the guard is unsure (the message has the intent's words, but as much against them), the message gets
    `unsure_intent` (the fallback, which repairs) with `clarify_entity` entities naming the `clarify_intents` it
    might mean (the demoted one first, then any other the classifier ranked that the words hold up), so the bot
    asks "Do you mean our address or opening hours?" instead of declining.

    A service the clinic does not offer (`unoffered_entity`, from clinic.yml) turns a decline or a vaguer intent
    (`unoffered_from`) into `services_intent`, whose answer says so and lists what the clinic does offer.
    A question about one it offers (`offered_entity`, asked in one of the `offered_questions` ways) does the same
    from `offered_from`: "do you do jabs?" is not a yes.

    A request naming another business or provider (`elsewhere_phrases`: "the barbers", "the post office") or a sum
    (`elsewhere_patterns`), with no health term, is declined for the `elsewhere_intents`, and does not get a
    clinic topic back: "cancel my appointment at the barbers" is not the clinic's appointment.

    A declined message (by the classifier's low confidence or by this guard) that names a clinic topic in words
    designers list (`topic_phrases`: "postcode", "landline", "close for lunch"; for an answer of a retrieval intent,
    "faq/cost": "how much", "pay", only when the ResponseSelector picked that answer) gets that topic's intent back,
    unless what speaks against the intent (as above) weighs as much or the message has a word that neither a clinic
    example nor the topic's phrases use: "directions please" is the clinic's address, "directions to the nearest
    walmart" stays declined. The longest phrase found picks the topic.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Clinic intents a message must show evidence for; the rest are left as classified.
            "intents": [],
            # Intents demoted on counter-evidence only, never for lacking distinctive words.
            "lenient_intents": [],
            # The intent a demoted message gets, and whose examples are the "anything else" background.
            "decline_intent": "out_of_scope",
            # How many times more often (share of examples) a word must occur in an intent than in the background.
            "min_ratio": 8.0,
            # The same for counter-evidence: the decline intent's words against all checked intents' examples.
            "counter_min_ratio": 3.0,
            # Typos are forgiven in distinctive words this long or longer (short words would match too much).
            "min_fuzzy_length": 5,
            # The intent a complaint is read into (by RedFlagClassifier); weighed for everyday health words too.
            "symptom_intent": "describe_symptoms",
            # Intents for which a word no training example uses counts against ("where is the colosseum" is not the
            # clinic's address). Not for intents whose requests name people and places the data cannot list.
            "unknown_words_against": [],
            # What an unknown word weighs against the intent; a distinctive word weighs 1.
            "unknown_word_weight": 0.5,
            # A service the clinic does not offer ("do you have a dentist"): the entity, the intent that answers it,
            # and the intents it overrules. Booking keeps its intent: the booking form says so and asks what to book.
            "unoffered_entity": "unoffered_service",
            # An unsure decline names up to `max_guesses` of these intents (entity `clarify_entity`) to ask about.
            "clarify_entity": "clinic_guess",
            "unsure_intent": DEFAULT_NLU_FALLBACK_INTENT_NAME,
            "clarify_intents": [],
            "max_guesses": 2,
            "services_intent": "ask_services",
            "symptom_entity": "symptom",
            "unoffered_from": [
                "out_of_scope",
                "nlu_fallback",
                "faq",
                "help",
                "ask_human",
                "inform",
                "choose_option",
                "greet",
            ],
            # A question naming a service the clinic offers ("do you do jabs?") gets `services_intent` from these
            # vague intents (an answer in a form is no question: "the physio one", "yes the nurse") ...
            "offered_entity": "clinic_service",
            "offered_from": [
                "out_of_scope",
                "nlu_fallback",
                "inform",
                "choose_option",
                "affirm",
                "help",
                "greet",
            ],
            # ... asked in one of these ways ("do you have", "is it available"), set in config.yml.
            "offered_questions": [],
            # An answer of a retrieval intent ("faq/cost") gets no evidence from words in more than this share of
            # all training examples.
            "answer_max_share": 0.01,
            # Entities that qualify a request without making it a health one ("my son", "today").
            "qualifier_entities": ["age_group"],
            # Words that place a question at the clinic ("come to you", "get there", "works there"): asked with one
            # of the `place_from` intents (the bot's menu), it is the services question.
            "clinic_place_phrases": [],
            "place_from": ["help"],
            # Greetings and politeness ("hello, …", "sorry to bother you"): never a sign of another domain.
            "courtesy_words": [],
            # Intent -> phrases that name its topic; a declined message saying one gets the intent back.
            "topic_phrases": {},
            # What a topic phrase weighs for its intent (a distinctive word weighs 1).
            "topic_phrase_weight": 2.0,
            # Phrases naming another business or provider ("the barbers", "the post office"): with no health term,
            # a message naming one is about that place, not the clinic, for the `elsewhere_intents`.
            "elsewhere_phrases": [],
            "elsewhere_intents": [],
            # Regular expressions for requests no clinic word makes a clinic one ("what's 17 times 23"): declined
            # like a message naming another place.
            "elsewhere_patterns": [],
        }

    def _set_trained(self, learned: Optional[Dict[Text, Any]]) -> None:
        """`learned`: per checked intent its words "for" and "against", the decline examples, every known word."""
        learned = learned or {"intents": {}, "everyday_texts": [], "known_words": []}
        by_intent = learned["intents"]
        self._evidence = {
            intent: Vocabulary(words_of["for"], self._config["min_fuzzy_length"])
            for intent, words_of in by_intent.items()
        }
        self._counter = {intent: frozenset(words_of["against"]) for intent, words_of in by_intent.items()}
        self._everyday_phrases = phrases_of(learned["everyday_texts"])
        self._known = Vocabulary(learned["known_words"])
        self._clinic_words = Vocabulary(learned.get("clinic_words", []))
        # Topic (an intent, or a retrieval answer "faq/cost") -> its phrases as words, read once here.
        self._topic_phrases: Dict[Text, Set[Tuple[Text, ...]]] = {
            topic: {tuple(words(phrase)) for phrase in phrases}
            for topic, phrases in (self._config["topic_phrases"] or {}).items()
        }
        self._elsewhere = {tuple(words(phrase)) for phrase in self._config["elsewhere_phrases"] or []}
        self._courtesy = frozenset(self._config["courtesy_words"])
        self._clinic_place = {tuple(words(phrase)) for phrase in self._config["clinic_place_phrases"]}
        self._offered_questions = {tuple(words(phrase)) for phrase in self._config["offered_questions"]}
        self._elsewhere_patterns = [
            re.compile(p, re.IGNORECASE) for p in self._config["elsewhere_patterns"] or []
        ]
        self._topic_words = {
            topic: {w for phrase in phrases for w in phrase} for topic, phrases in self._topic_phrases.items()
        }

    @classmethod
    def from_storage(cls, config: Dict[Text, Any], directory: Path) -> Dict[Text, Any]:
        return json.loads((directory / LEARNED_FILE).read_text(encoding="utf-8"))

    def train(self, training_data: TrainingData) -> Resource:
        by_intent: Dict[Text, List[Words]] = defaultdict(list)
        for example in training_data.intent_examples:
            text = message_words(example)
            by_intent[example.get(INTENT)].append(text)
            if example.get(INTENT_RESPONSE_KEY):  # "faq/cost": also weighed on its own
                by_intent[example.get(INTENT_RESPONSE_KEY)].append(text)
        decline = self._config["decline_intent"]
        listed = [*self._config["intents"], *self._config["lenient_intents"]]
        answers = [key for key in by_intent if key.split("/")[0] in listed and "/" in key]
        checked = {intent: by_intent[intent] for intent in [*listed, *answers]}
        evidence = distinctive_words(
            {intent: by_intent[intent] for intent in listed}, by_intent[decline], self._config["min_ratio"]
        )
        evidence.update(self._answer_evidence(by_intent, answers))
        everything_checked = [text for texts in checked.values() for text in texts]
        declined_words = distinctive_words(
            {decline: by_intent[decline]}, everything_checked, self._config["counter_min_ratio"]
        )[decline]
        intents = {}
        for intent, texts in checked.items():
            used = set(vocabulary_of(texts))
            intents[intent] = {
                "for": evidence[intent],
                "against": [w for w in declined_words if w not in used],
            }
        learned = {
            "intents": intents,
            "everyday_texts": by_intent[decline],
            "known_words": vocabulary_of(text for texts in by_intent.values() for text in texts),
            "clinic_words": vocabulary_of(
                text for intent, texts in by_intent.items() if intent != decline for text in texts
            ),
        }
        with self._model_storage.write_to(self._resource) as directory:
            (directory / LEARNED_FILE).write_text(json.dumps(learned, indent=1), encoding="utf-8")
        self._set_trained(learned)
        return self._resource

    def _answer_evidence(
        self, by_intent: Dict[Text, List[Words]], answers: List[Text]
    ) -> Dict[Text, List[Text]]:
        """An answer has a few examples, so it is weighed against everything else said to the bot, and words common
        across all the examples ("your", "get", "when") are no evidence for it however its few examples use them."""
        every_text = [text for intent, texts in by_intent.items() if "/" not in intent for text in texts]
        in_examples = Counter(w for text in every_text for w in set(text))
        common = {
            w
            for w, count in in_examples.items()
            if count > self._config["answer_max_share"] * len(every_text)
        }
        evidence = {}
        for key in answers:
            rest = [
                text
                for intent, texts in by_intent.items()
                if "/" not in intent and intent != key.split("/")[0]
                for text in texts
            ] + [text for other in answers if other != key for text in by_intent[other]]
            found = distinctive_words({key: by_intent[key]}, rest, self._config["min_ratio"])[key]
            evidence[key] = [w for w in found if w not in common]
        return evidence

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            said = message_words(message)  # read once: the steps below only change the intent and entities
            if not self._name_service_question(message, said):
                self._check(message, said)
                self._name_service_question(message, said)  # the check may have declined it
            self._ask_about_the_clinic(message, said)
            self._name_topic(message, said)
        return messages

    def _ask_about_the_clinic(self, message: Message, said: List[Text]) -> None:
        """A question asked like the bot's own menu (`help`) but about the clinic, named by one of
        `clinic_place_phrases` ("what can I come to you for", "what help can I get there"): the services answer."""
        if (message.get(INTENT) or {}).get("name") in self._config["place_from"] and self._has_phrase(
            said, self._clinic_place
        ):
            _overrule(message, self._config["services_intent"])

    def _name_service_question(self, message: Message, said: List[Text]) -> bool:
        """A service the clinic does not offer, asked about with a vague or declined intent, gets `services_intent`
        (its answer says so), and so does a question naming one it offers ("do ye do jabs", "u have a doctor on
        site?"); a current complaint (not a risk factor like "transplant") is triaged instead."""
        found_entities = message.get(ENTITIES) or []
        complaint = any(
            e.get("entity") == self._config["symptom_entity"]
            and not e.get("role")
            and self._is_health_term(e)
            for e in found_entities
        )
        intent = (message.get(INTENT) or {}).get("name")
        named = {e.get("entity") for e in found_entities}
        unoffered = intent in self._config["unoffered_from"] and self._config["unoffered_entity"] in named
        text = message.get(TEXT) or ""
        offered = (
            intent in self._config["offered_from"]
            and self._config["offered_entity"] in named
            and asks_a_question(text)
            and self._has_phrase(said, self._offered_questions)
            and not self._names_elsewhere(said, text)
        )
        if not complaint and (unoffered or offered):
            _overrule(message, self._config["services_intent"])
            guess = self._config["clarify_entity"]
            message.set(ENTITIES, [e for e in found_entities if e.get("entity") != guess], add_to_output=True)
            return True
        return False

    def _check(self, message: Message, said: List[Text]) -> None:
        """Demotes the message's clinic intent when its words give no ground for it (see the class)."""
        intent = (message.get(INTENT) or {}).get("name")
        text = message.get(TEXT) or ""
        health_terms = [
            text[e.get(ENTITY_ATTRIBUTE_START, 0) : e.get(ENTITY_ATTRIBUTE_END, 0)]
            for e in message.get(ENTITIES) or []
            if self._is_health_term(e)
        ]
        everyday = [term for term in health_terms if self._is_everyday(term)]
        if len(everyday) < len(health_terms):
            return  # a health term no everyday request uses: clinic business
        found = [w for w in said if not w.isdigit()]
        if (
            intent in self._config["elsewhere_intents"]
            and not health_terms
            and self._names_elsewhere(found, text)
        ):
            _overrule(message, self._config["decline_intent"])
            message.set(DECLINED_BY_GUARD, True)
            return
        granted = {w for term in everyday for w in words(term)}
        self._repick_answer(message, intent, found, granted)
        # Not a checked intent, but an everyday health word the red-flag step would read a complaint into
        # ("what temperature is it in the kitchen", classified out_of_scope): the symptom intent must hold up.
        weighed = [
            name
            for name in (self._weighed_as(intent, everyday), answer_key(message, intent))
            if name in self._evidence
        ]
        if any(self._outweighed(name, found, granted) for name in weighed):
            if intent in self._evidence:
                guesses = self._guesses(message, found, granted)
                _overrule(message, self._config["unsure_intent" if guesses else "decline_intent"])
                message.set(ENTITIES, message.get(ENTITIES, []) + guesses, add_to_output=True)
            message.set(DECLINED_BY_GUARD, True)

    def _repick_answer(
        self, message: Message, intent: Optional[Text], found: List[Text], granted: Set[Text]
    ) -> None:
        """The ResponseSelector's answer may lack the words it needs while one it ranked lower has them ("how do I
        register at the clinic" got the cost answer): the best-ranked answer whose topic phrase the message names
        (`topic_phrases`) and whose words hold up replaces it."""
        selected = (message.get(RESPONSE_SELECTOR_PROPERTY_NAME) or {}).get(intent or "")
        picked = answer_key(message, intent)
        if not selected or picked not in self._evidence or not self._outweighed(picked, found, granted):
            return
        for ranked in selected.get(RESPONSE_SELECTOR_RANKING_KEY) or []:
            key = ranked.get(INTENT_RESPONSE_KEY)
            if (
                self._has_phrase(found, self._topic_phrases.get(key, set()))
                and key in self._evidence
                and not self._outweighed(key, found, granted)
            ):
                selected[RESPONSE_SELECTOR_PREDICTION_KEY] = {
                    RESPONSE_SELECTOR_RESPONSES_KEY: [],
                    PREDICTED_CONFIDENCE_KEY: ranked.get(PREDICTED_CONFIDENCE_KEY),
                    INTENT_RESPONSE_KEY: key,
                    RESPONSE_SELECTOR_UTTER_ACTION_KEY: intent_response_key_to_template_key(key),
                }
                return

    def _name_topic(self, message: Message, said: List[Text]) -> None:
        """Gives a declined message the intent of a clinic topic it names, when nothing outweighs it (see the
        class); a complaint in it is left to triage."""
        if (message.get(INTENT) or {}).get("name") not in (
            self._config["decline_intent"],
            self._config["unsure_intent"],
        ):
            return
        found_entities = message.get(ENTITIES) or []
        if any(
            e.get("entity") == self._config["symptom_entity"] and self._is_health_term(e)
            for e in found_entities
        ):
            return
        found = [w for w in said if not w.isdigit()]
        topic = self._topic_of(found, message)
        if (
            topic is None
            or topic not in self._evidence
            or self._names_elsewhere(found, message.get(TEXT) or "")
        ):
            return
        intent = topic.split("/")[0]
        if intent != topic and answer_key(message, intent) != topic:
            return  # an answer ("faq/cost") comes back only where the ResponseSelector picked it
        if any(w not in self._topic_words[topic] and not self._clinic_words.knows(w) for w in found):
            return  # a word nothing said to the clinic uses: "parking garages downtown", "my address for dhl"
        evidence, against = self._weights(topic, found, set())
        if evidence + self._config["topic_phrase_weight"] <= against or (intent != topic and against > 0):
            return  # an answer's few examples know few words: nothing may speak against it ("the fee for my car")
        _overrule(message, intent)
        guess = self._config["clarify_entity"]
        message.set(ENTITIES, [e for e in found_entities if e.get("entity") != guess], add_to_output=True)
        message.set(DECLINED_BY_GUARD, False)

    def _topic_of(self, found: List[Text], message: Message) -> Optional[Text]:
        """The topic of the longest topic phrase among the words, if any; of phrases as long, the one the classifier
        ranked higher, or the answer the ResponseSelector picked ("the latest I can cancel" names hours and
        lateness)."""
        named = [
            (max(len(phrase) for phrase in present), topic)
            for topic, phrases in self._topic_phrases.items()
            if (present := [phrase for phrase in phrases if self._has_phrase(found, {phrase})])
        ]
        if not named:
            return None
        longest = max(size for size, _ in named)
        ranked = [r.get("name") for r in message.get(INTENT_RANKING_KEY) or []]

        def rank(topic: Text) -> int:
            intent = topic.split("/")[0]
            if intent != topic:
                return -1 if answer_key(message, intent) == topic else len(ranked)
            return ranked.index(intent) if intent in ranked else len(ranked)

        return min((topic for size, topic in named if size == longest), key=rank)

    def _names_elsewhere(self, found: List[Text], text: Text) -> bool:
        """One of the `elsewhere_phrases` among the words ("opening times of the post office"), or a match of an
        `elsewhere_patterns` expression in the text ("17 times 23")."""
        return self._has_phrase(found, self._elsewhere) or any(
            pattern.search(text) for pattern in self._elsewhere_patterns
        )

    @staticmethod
    def _has_phrase(found: List[Text], phrases: Set[Tuple[Text, ...]]) -> bool:
        return any(
            tuple(found[i : i + len(phrase)]) == phrase
            for phrase in phrases
            for i in range(len(found) - len(phrase) + 1)
        )

    def _weighed_as(self, intent: Optional[Text], everyday: List[Text]) -> Optional[Text]:
        """The classified intent when checked; otherwise the symptom intent an everyday health word would get."""
        if intent in self._evidence:
            return intent
        return self._config["symptom_intent"] if everyday else None

    def _weights(self, intent: Text, found: List[Text], granted: Set[Text]) -> Tuple[float, float]:
        """(evidence, counter-evidence) for the intent. `granted` words (of an everyday health term) count for it."""
        evidence = sum(w in granted or self._evidence[intent].knows(w) for w in found)
        # A service is often a word no example uses ("do you do dna tests", "is there a paediatrician"): asked
        # as a service question, it is the thing asked about, not a sign of another domain.
        named_service = intent == self._config["services_intent"] and self._has_phrase(
            found, self._offered_questions
        )
        strange = intent.split("/")[0] in self._config["unknown_words_against"] and not named_service
        unknown = sum(strange and not self._known.knows(w) for w in found)
        against = sum(w in self._counter[intent] and w not in self._courtesy for w in found)
        return evidence, against + self._config["unknown_word_weight"] * unknown

    def _outweighed(self, intent: Text, found: List[Text], granted: Set[Text]) -> bool:
        """No evidence (unless lenient), or at least as much counter-evidence as evidence."""
        evidence, against = self._weights(intent, found, granted)
        if evidence == 0 and intent not in self._config["lenient_intents"]:
            return True
        return against > 0 and against >= evidence

    def _guesses(self, message: Message, found: List[Text], granted: Set[Text]) -> List[Dict[Text, Any]]:
        """What an unsure decline asks about: the demoted intent when its words balance what speaks against them,
        then other ranked clarify intents whose words at least balance theirs; nothing when the demoted intent is
        not one to ask about or is plainly outweighed."""
        ranked = [r.get("name") for r in message.get(INTENT_RANKING_KEY) or []]
        chosen = (message.get(INTENT) or {}).get("name")
        names: List[Text] = []
        for name in [chosen, *(r for r in ranked if r != chosen)]:
            if name not in self._config["clarify_intents"] or name not in self._evidence:
                if name == chosen:
                    return []
                continue
            evidence, against = self._weights(name, found, granted)
            if evidence > 0 and against <= evidence:
                names.append(name)
            elif name == chosen:
                return []
        length = len(message.get(TEXT) or "")
        return [
            {
                "entity": self._config["clarify_entity"],
                "value": name,
                "start": 0,
                "end": length,
                "confidence": 1.0,
                "extractor": self.__class__.__name__,
            }
            for name in names[: self._config["max_guesses"]]
        ]

    def _is_health_term(self, entity: Dict[Text, Any]) -> bool:
        """An entity from the patterns other than a qualifier: a duration ("today") or an age ("my son") alone is not."""
        return entity.get("entity") not in self._config["qualifier_entities"] and is_complaint(
            str(entity.get("value"))
        )

    def _is_everyday(self, term: Text) -> bool:
        """The decline examples say it too ("boil" in "how long do I boil an egg")."""
        return " ".join(words(term)) in self._everyday_phrases
