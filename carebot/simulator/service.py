"""The simulator's work: post what the designer does on the phone to the running Rasa's WhatsApp webhook as Twilio
would (signed, `carebot.channels.signature.sign`), wait until the channel has handled the turn and sent its
replies, and show the phone what the Twilio stand-in accepted for the simulated number, with each turn's panel
from Rasa's tracker (HTTP API, the Rasa token). Controls: a new patient, the 24-hour window closed (the channel's
last-inbound time moved back), and the reminders' clock moved on (the patient's pending reminder occurrences due
within the hours are made due now, so the dispatcher sends them in its next round)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import quote, urlencode

import aiohttp
import yaml
from sqlalchemy import and_, select, update
from sqlalchemy.engine import Engine

from carebot import settings
from carebot.channels.contacts import ContactStore, whatsapp_outbox
from carebot.channels.inbound import whatsapp_inbound
from carebot.channels.outbox import ACTIVE
from carebot.channels.signature import sign
from carebot.clock import utc_now
from carebot.phones import whatsapp_address
from carebot.reminders.store import reminder_occurrences, reminders
from carebot.simulator import model
from carebot.simulator.twilio_standin import TwilioStandIn

log = logging.getLogger(__name__)

FLOWS_DIR = settings.PROJECT_ROOT / "docs" / "flows"
RULES_DIR = settings.PROJECT_ROOT / "data" / "rules"
DOMAIN = settings.PROJECT_ROOT / "domain.yml"
TURN_TIMEOUT_SECONDS = 60.0
WINDOW_JUMP = dt.timedelta(hours=25)


def flow_index(rules_dir: Path = RULES_DIR, domain: Path = DOMAIN) -> Dict[str, List[str]]:
    """Action (or form) name → the docs/flows diagrams (`make flows`) of the rules files that run it."""
    index: Dict[str, List[str]] = {"action_red_flag": ["triage-red-flags"]}
    for path in sorted(rules_dir.glob("*.yml")):
        for rule in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("rules") or []:
            for step in rule.get("steps") or []:
                name = step.get("action") or step.get("active_loop")
                if isinstance(name, str) and f"rules-{path.stem}" not in index.setdefault(name, []):
                    index[name].append(f"rules-{path.stem}")
    for form in (yaml.safe_load(domain.read_text(encoding="utf-8")) or {}).get("forms") or {}:
        index.setdefault(form, []).append("forms")
    return index


def simulator_env(
    twilio_url: str, auth_token: str, rasa_url: str, state_database: Optional[Path] = None
) -> Dict[str, str]:
    """What points a Carebot stack's WhatsApp channel at the stand-in: webhooks signed with `auth_token` over the
    Rasa URL itself and, when given, a channel state database of the simulator's own (its Content API templates
    are the stand-in's, which a real Twilio account does not know); else the stack's own (the load tests)."""
    env = {
        "TWILIO_ACCOUNT_SID": model.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": auth_token,
        "TWILIO_WHATSAPP_NUMBER": model.CLINIC_NUMBER,
        "TWILIO_API_BASE_URL": twilio_url,
        "WHATSAPP_WEBHOOK_URL": rasa_url,
    }
    if state_database is not None:
        env["WHATSAPP_STATE_DATABASE_URL"] = f"sqlite:///{state_database}"
    return env


@dataclass
class Simulator:
    """One designer's phone: the simulated patient's number, what they sent, and the stack it talks to."""

    twilio: TwilioStandIn
    rasa_url: str
    rasa_token: str
    auth_token: str  # the channel's TWILIO_AUTH_TOKEN: webhooks are signed with it
    contacts: ContactStore  # the channel's state database (the 24-hour window, the inbox, the outbox)
    backend: Optional[Engine] = None  # the backend database, for the reminders' clock
    templates: Mapping[str, str] = field(
        default_factory=dict
    )  # clinic.yml whatsapp.templates: name → ContentSid
    flows: Mapping[str, List[str]] = field(default_factory=dict)
    public_url: str = (
        ""  # the channel's WHATSAPP_WEBHOOK_URL, over which it checks signatures; default rasa_url
    )
    reminder_spread: dt.timedelta = dt.timedelta(
        0
    )  # clinic.yml's: a reminder may leave up to this after its time
    phone: str = field(default_factory=model.new_phone)
    chat: List[Dict[str, Any]] = field(default_factory=list)  # the phone's bubbles in arrival order
    _seen: int = 0  # how many of the stand-in's accepted messages the chat has looked at
    _session: Optional[aiohttp.ClientSession] = None

    # ------------------------------------------------------------------------------------------ the phone
    async def send(self, action: Mapping[str, Any]) -> Dict[str, Any]:
        """One thing the patient did (`text`, `button`, `list_item`, `media` or `location`) as a signed webhook;
        returns once the channel has handled it and sent every reply, with the phone's new state."""
        form = model.inbound_form(
            self.phone,
            body=str(action.get("text") or ""),
            button=action.get("button"),
            list_item=action.get("list_item"),
            media=action.get("media"),
            location=action.get("location"),
        )
        self._take_replies()  # whatever the bot sent before this message comes before it
        self.chat.append({**model.patient_bubble(form), "sid": form["MessageSid"]})
        url = self.rasa_url + model.WEBHOOK_PATH
        headers = {
            "X-Twilio-Signature": sign(
                self.auth_token, (self.public_url or self.rasa_url) + model.WEBHOOK_PATH, form
            ),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        async with self.session().post(url, data=urlencode(form), headers=headers) as response:
            if response.status >= 300:
                raise SimulatorError(
                    f"the WhatsApp webhook answered {response.status}: {await response.text()}"
                )
        await self.turn_done(form["MessageSid"])
        return await self.state()

    async def turn_done(self, message_sid: str, timeout: float = TURN_TIMEOUT_SECONDS) -> None:
        """Waits until the message has left the channel's inbox (its turn is over) and nothing of the patient's is
        still waiting in the outbox (every reply reached the stand-in, or failed)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while await asyncio.to_thread(self._pending, message_sid):
            if asyncio.get_running_loop().time() > deadline:
                raise SimulatorError(f"no answer to {message_sid} within {timeout:.0f} s: is Rasa running?")
            await asyncio.sleep(0.1)

    def _pending(self, message_sid: str) -> bool:
        inbox, outbox = whatsapp_inbound.c, whatsapp_outbox.c
        with self.contacts.engine.connect() as connection:
            waiting = connection.execute(
                select(inbox.id).where(inbox.message_sid == message_sid).limit(1)
            ).first()
            unsent = connection.execute(
                select(outbox.id).where(outbox.phone == self.phone, outbox.state.in_(ACTIVE)).limit(1)
            ).first()
        return waiting is not None or unsent is not None

    def _take_replies(self) -> None:
        """Adds to the chat, in the order the stand-in accepted them, the messages to the number not yet shown."""
        address = whatsapp_address(self.phone)
        accepted = list(self.twilio.accepted)
        for message in accepted[self._seen :]:
            if message.to != address:
                continue
            shown = self.twilio.shown(message) if message.content_sid in self.twilio.contents else None
            self.chat.append(
                model.bot_bubble(
                    message.sid,
                    message.body,
                    message.media_url,
                    message.content_sid,
                    message.content_variables,
                    shown,
                    self.templates,
                )
            )
        self._seen = len(accepted)

    def messages(self) -> List[Dict[str, Any]]:
        """The chat: the patient's messages and every message the stand-in accepted for the number, in arrival
        order (a reminder the dispatcher sent appears when the page next asks)."""
        self._take_replies()
        return list(self.chat)

    async def tracker_events(self) -> List[Dict[str, Any]]:
        """The conversation's events from Rasa's HTTP API (every session), [] before the first message."""
        conversation = quote(whatsapp_address(self.phone), safe=":+")
        url = f"{self.rasa_url}/conversations/{conversation}/tracker"
        async with self.session().get(url, params={"token": self.rasa_token}) as response:
            if response.status == 404:
                return []
            if response.status != 200:
                raise SimulatorError(f"Rasa's tracker API answered {response.status}")
            return list((await response.json()).get("events") or [])

    async def state(self) -> Dict[str, Any]:
        """Everything the page shows: the number, the chat, the panels, the 24-hour window."""
        events = await self.tracker_events()
        last_inbound = await asyncio.to_thread(self.contacts.last_inbound, self.phone)
        in_window = await asyncio.to_thread(self.contacts.in_window, self.phone)
        return {
            "phone": self.phone,
            "messages": self.messages(),
            "panels": model.panels(events, self.flows),
            "with_staff": model.with_staff(events),
            "window": {
                "open": in_window,
                "last_inbound": last_inbound.isoformat() if last_inbound else None,
            },
        }

    # ------------------------------------------------------------------------------------------ controls
    def reset(self) -> str:
        """A new conversation: a fresh patient number (the old conversation stays in the stores)."""
        self._take_replies()
        self.phone = model.new_phone()
        self.chat = []
        return self.phone

    async def close_window(self, by: dt.timedelta = WINDOW_JUMP) -> Optional[dt.datetime]:
        """The patient's last message moved `by` into the past in the channel's state, so WhatsApp's 24-hour
        window is closed: the next message the bot starts (a reminder, a staff reply) goes as a template."""
        last = await asyncio.to_thread(self.contacts.last_inbound, self.phone)
        if last is None:
            return None
        moved = last - by
        await asyncio.to_thread(self.contacts.record_inbound, self.phone, moved)
        return moved

    async def advance_reminders(self, hours: float) -> int:
        """The reminders' clock moved on `hours`: the patient's pending occurrences due by then are made due now,
        so the dispatcher sends them in its next round (REMINDER_POLL_SECONDS). How many were moved."""
        if self.backend is None:
            raise SimulatorError("no backend database: the reminders' clock cannot be moved")
        now = utc_now().replace(tzinfo=None)
        until = now + dt.timedelta(hours=hours)
        occ, rem = reminder_occurrences.c, reminders.c
        mine = select(rem.id).where(rem.conversation_id == whatsapp_address(self.phone))
        statement = (
            update(reminder_occurrences)
            .where(
                and_(
                    occ.reminder_id.in_(mine), occ.status == "pending", occ.due_at <= until, occ.due_at > now
                )
            )
            .values(due_at=now - self.reminder_spread)
        )

        def move() -> int:
            with self.backend.begin() as connection:
                return int(connection.execute(statement).rowcount)

        return await asyncio.to_thread(move)

    # ------------------------------------------------------------------------------------------ plumbing
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class SimulatorError(RuntimeError):
    """The stack did not do what the simulator asked; the message says what, for the designer."""
