"""Twilio Content API templates for tap-to-answer messages (quick replies, list pickers), made once and cached.

An offer's words change with every turn ("Tuesday 10:00"), so the templates carry none: one template per shape
(content type and number of options), with the prompt, the option titles and the option ids as variables
(`{{body}}`, `{{t1}}`, `{{i1}}` …). That makes at most 3 + 10 templates per Twilio account, each created on its first
use and then known by the hash of its definition: in this process's memory, then in the channel's database (shared
by replicas and the dispatcher), and only when neither has it, through the Content API (`POST /v1/Content`). The
per-message path therefore reads a dict; a network call happens once per shape and account.

Sent inside the 24-hour window, these templates need no WhatsApp approval (WhatsApp would not approve a body that
is only a variable, which is why they are never used outside it). If the Content API fails, `sid_for` answers None
for a minute and the sender falls back to the numbered text, so an outage costs no call per message either.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
from typing import Any, Awaitable, Callable, Dict, Mapping, Optional, Tuple

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from carebot.channels.buttons import LIST_PICKER, QUICK_REPLY, TapOffer
from carebot.channels.contacts import _utc_naive, whatsapp_content_templates

logger = logging.getLogger(__name__)

CONTENT_API_URL = "https://content.twilio.com"
RETRY_AFTER_FAILURE = dt.timedelta(minutes=1)
# Creates one template from its definition and returns its ContentSid (HX…); raises on any failure.
CreateContent = Callable[[Mapping[str, Any]], Awaitable[str]]
Shape = Tuple[str, int]  # (content type, number of options)


def definition(shape: Shape, language: str, list_button: str) -> Dict[str, Any]:
    """The Content API create request of one shape, variables with sample values."""
    kind, count = shape
    numbers = range(1, count + 1)
    samples: Dict[str, str] = {"body": "Please choose"}
    for number in numbers:
        samples.update({f"t{number}": f"Option {number}", f"i{number}": f"offer.{number}"})
    if kind == QUICK_REPLY:
        actions = [{"type": "QUICK_REPLY", "title": f"{{{{t{n}}}}}", "id": f"{{{{i{n}}}}}"} for n in numbers]
        types: Dict[str, Any] = {kind: {"body": "{{body}}", "actions": actions}}
    elif kind == LIST_PICKER:
        items = [{"item": f"{{{{t{n}}}}}", "id": f"{{{{i{n}}}}}"} for n in numbers]
        types = {kind: {"body": "{{body}}", "button": list_button, "items": items}}
    else:
        raise ValueError(f"not a tap-to-answer content type: {kind}")
    return {
        "friendly_name": f"carebot_{kind.split('/')[-1].replace('-', '_')}_{count}",
        "language": language,
        "variables": samples,
        "types": types,
    }


def variables(offer: TapOffer) -> Dict[str, str]:
    """The ContentVariables that fill a shape's template with one offer."""
    values = {"body": offer.body}
    for number, (title, option_id) in enumerate(offer.options, start=1):
        values.update({f"t{number}": title, f"i{number}": option_id})
    return values


def shape_of(offer: TapOffer) -> Shape:
    return offer.kind, len(offer.options)


class ContentTemplates:
    """ContentSids of the tap-to-answer shapes: memory, then the database, then one Content API call."""

    def __init__(
        self,
        engine: Engine,
        create: CreateContent,
        language: str,
        list_button: str,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.engine = engine
        self._create = create
        self.language = language
        self.list_button = list_button
        self._clock = clock
        self._sids: Dict[str, str] = {}
        self._failed_until: Dict[str, dt.datetime] = {}
        self._locks: Dict[str, asyncio.Lock] = {}

    def _definition(self, offer: TapOffer) -> Tuple[str, Dict[str, Any]]:
        made = definition(shape_of(offer), self.language, self.list_button)
        digest = hashlib.sha256(json.dumps(made, sort_keys=True).encode()).hexdigest()
        return digest, made

    async def sid_for(self, offer: TapOffer) -> Optional[str]:
        """The ContentSid that shows this offer, or None while the Content API cannot make it (numbered text)."""
        digest, made = self._definition(offer)
        known = self._sids.get(digest)
        if known:
            return known
        if self._clock() < self._failed_until.get(digest, dt.datetime.min.replace(tzinfo=dt.timezone.utc)):
            return None
        async with self._locks.setdefault(digest, asyncio.Lock()):  # one creation per shape in this process
            if digest not in self._sids:
                sid = await asyncio.to_thread(self._stored, digest) or await self._created(digest, made)
                if sid:
                    self._sids[digest] = sid
        return self._sids.get(digest)

    def cached(self, offer: TapOffer) -> str:
        """The ContentSid `sid_for` found for this offer's shape in this process ('' if it found none)."""
        return self._sids.get(self._definition(offer)[0], "")

    def failed(self, offer: TapOffer, reason: str) -> None:
        """Twilio refused a message with this shape's template: numbered text for a while, then make it anew."""
        digest = self._definition(offer)[0]
        self._sids.pop(digest, None)
        self._failed_until[digest] = self._clock() + RETRY_AFTER_FAILURE
        logger.error("WhatsApp content %s refused (%s); numbered text for now", shape_of(offer), reason)

    def _stored(self, digest: str) -> Optional[str]:
        t = whatsapp_content_templates.c
        with self.engine.connect() as conn:
            return conn.execute(select(t.content_sid).where(t.definition_hash == digest)).scalar()

    async def _created(self, digest: str, made: Mapping[str, Any]) -> Optional[str]:
        try:
            sid = await self._create(made)
        except Exception as error:  # noqa: BLE001 - any failure means numbered text, never a lost reply
            self._failed_until[digest] = self._clock() + RETRY_AFTER_FAILURE
            logger.error(
                "WhatsApp: the Content API could not create %s (%s: %s); offers go as numbered text for %d s",
                made["friendly_name"],
                type(error).__name__,
                error,
                RETRY_AFTER_FAILURE.total_seconds(),
            )
            return None
        logger.info("WhatsApp: created content template %s as %s", made["friendly_name"], sid)
        return await asyncio.to_thread(self._store, digest, sid)

    def _store(self, digest: str, sid: str) -> str:
        """Record the new template; if another process recorded the shape first, use its template."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    whatsapp_content_templates.insert().values(
                        definition_hash=digest, content_sid=sid, created_at=_utc_naive(self._clock())
                    )
                )
            return sid
        except IntegrityError:
            return self._stored(digest) or sid
