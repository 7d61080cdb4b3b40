"""The offer worker, run by the dispatcher process: turns freed slots into offers, lets offers lapse, and has the
bot speak each new offer (and tell a patient whose offer went to someone else) through Rasa's trigger_intent.

Each round: `offer_freed` (slots a cancellation or a lapsed/declined offer freed), `expire` (holds run out), then the
deliveries. A delivery is marked after Rasa accepted the trigger: at-least-once, so a crash between the two can
repeat an offer, which is harmless (accepting twice answers the same booking). The round runs every
`poll_seconds` (the dispatcher's, 5 s by default): a cancellation is offered within seconds, well inside a minute.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Dict, Protocol

from sqlalchemy.engine import Engine

from carebot.backend.db import run_db
from carebot.clinic import Clinic
from carebot.phones import mask_phone
from carebot.rasa_api import RasaAPI, RasaAPIError
from carebot.waitlist import store
from carebot.waitlist.model import OfferDelivery

log = logging.getLogger(__name__)

INTENTS = {"offer": "waitlist_offer", "gone": "waitlist_offer_gone"}


class OfferDeliverer(Protocol):
    async def deliver(self, delivery: OfferDelivery) -> None:
        """Have the bot speak it; raise RasaAPIError when it could not."""


def trigger_entities(delivery: OfferDelivery) -> Dict[str, Any]:
    return {
        "waitlist_offer_id": delivery.offer_id,
        "appointment_start": delivery.start.isoformat(),
        "waitlist_offer_expires": delivery.expires.isoformat(),
        "waitlist_service": delivery.service_id,
        "waitlist_practitioner": delivery.practitioner_id,
    }


class RasaOfferDeliverer:
    def __init__(self, rasa: RasaAPI) -> None:
        self.rasa = rasa

    async def deliver(self, delivery: OfferDelivery) -> None:
        await self.rasa.trigger_intent(
            delivery.conversation_id,
            INTENTS[delivery.kind],
            trigger_entities(delivery),
            output_channel=delivery.channel,
        )


@dataclass
class RoundReport:
    offered: int = 0
    expired: int = 0
    delivered: int = 0
    failed: int = 0


class OfferWorker:
    def __init__(
        self, engine: Engine, clinic: Clinic, deliverer: OfferDeliverer, poll_seconds: float = 5.0
    ) -> None:
        self.engine, self.clinic, self.deliverer, self.poll_seconds = engine, clinic, deliverer, poll_seconds

    async def run_once(self) -> RoundReport:
        report = RoundReport()
        report.expired = await run_db(store.expire, self.engine, self.clinic)
        report.offered = len(await run_db(store.offer_freed, self.engine, self.clinic))
        for delivery in await run_db(store.pending_deliveries, self.engine):
            try:
                await self.deliverer.deliver(delivery)
            except RasaAPIError as error:
                report.failed += 1
                log.warning(
                    "waitlist %s for %s not delivered: %s",
                    delivery.kind,
                    mask_phone(delivery.conversation_id),
                    error,
                )
                continue
            await run_db(store.mark_delivered, self.engine, delivery.offer_id, delivery.kind)
            report.delivered += 1
        return report

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Rounds until `stop`; a database or bot outage is logged and the next round tries again."""
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:  # noqa: BLE001 - the worker must outlive a database restart
                log.exception("waitlist round failed; retrying in %.0f s", self.poll_seconds)
            try:
                await asyncio.wait_for(stop.wait(), self.poll_seconds)
            except asyncio.TimeoutError:
                pass
