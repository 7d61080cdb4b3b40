"""The staff inbox at /staff: server-rendered pages with their own login (outside the backend's bearer token).

Who sees which case (carebot.handoff.model.Case.visible_to): open cases nobody has taken wait in everyone's queue
(masked number, reason, waiting time); opening one takes it, and from then on only its taker and the admins
(`STAFF_ADMINS`) can read or act on it, until the taker puts it back in the queue. Every access to a case, a
refused one too, and every look at the queue is written to the audit log.

Every form POST carries a CSRF token bound to the session and answers with a redirect (post/redirect/get), so a
reload never sends a reply twice. Outcomes are shown from fixed notice codes; names and times come from the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import secrets
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple

import jinja2
from aiohttp import web

from carebot import mode
from carebot.backend.audit import AuditLog
from carebot.backend.db import run_db
from carebot.backend.notices import notices
from carebot.clinic import Clinic
from carebot.handoff.auth import Session, StaffAuth
from carebot.handoff.model import (
    REASON_LABELS,
    AlreadyResolved,
    Case,
    CaseNotFound,
    Delivery,
    Event,
    EventKind,
)
from carebot.handoff.service import REOPEN_TEMPLATE, HandoffService, ResumeFailed
from carebot.handoff.sessions import StaffSessions
from carebot.phones import mask_phone

log = logging.getLogger(__name__)

SESSION_COOKIE = "carebot_staff"
LOGIN_COOKIE = "carebot_login"
MAX_TEXT_CHARS = 4000
HERE = Path(__file__).resolve().parent
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(HERE / "templates")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
# Notice codes carried in the redirect after a POST → (level, text). Never free text from the query string.
NOTICES = {
    "noshow": ("ok", "No-show recorded; the patient's count on this page includes it."),
    Delivery.SENT.value: ("ok", "Reply sent to the patient on WhatsApp."),
    Delivery.SANDBOX.value: (
        "warn",
        "Sandbox mode (no Twilio credentials): the reply was recorded and logged, not sent.",
    ),
    Delivery.FAILED.value: (
        "error",
        "The reply could not be sent. It is recorded; please try again or phone the patient.",
    ),
    Delivery.NEEDS_TEMPLATE.value: (
        "warn",
        "Not sent: more than 24 hours since the patient last wrote. "
        "WhatsApp needs an approved template first (button below).",
    ),
    Delivery.OPTED_OUT.value: (
        "warn",
        "Not sent: the patient has opted out of WhatsApp messages. The reply is recorded.",
    ),
    Delivery.TEMPLATE_INSTEAD.value: (
        "warn",
        "WhatsApp's 24-hour window had closed, so the re-open template was sent "
        "instead of your text. Reply again when the patient writes back.",
    ),
    "note": ("ok", "Note added."),
    "resolved": ("ok", "Case resolved. The bot is answering this patient again."),
    "resume_failed": (
        "error",
        "Case resolved, but the bot could not be resumed (Rasa is not reachable). "
        "Press “Resume bot again” in a moment.",
    ),
    Delivery.QUEUED.value: (
        "warn",
        "Twilio did not take the reply yet; it is queued and retried automatically. If it cannot be sent it "
        "appears under “Messages WhatsApp did not take” on the inbox page.",
    ),
    "outbox_retried": ("ok", "The message is queued again and will be sent within a few seconds."),
    "outbox_dismissed": ("ok", "The message is dismissed: it will not be sent."),
    "outbox_gone": ("warn", "That message was already retried or dismissed."),
    "resumed": ("ok", "The bot is answering this patient again."),
    "released": ("ok", "The case is back in the queue: every staff member sees it again."),
    "empty": ("error", "Nothing to send: the text was empty."),
    "too_long": ("error", f"Too long: keep it under {MAX_TEXT_CHARS} characters."),
    "closed": ("warn", "This case is already resolved: nothing was sent."),
    "erased": (
        "ok",
        "Erased from every store. Upcoming appointments were cancelled and are listed on the inbox page.",
    ),
    "not_confirmed": ("error", "Nothing erased: tick the box to confirm the erasure."),
    "bad_phone": ("error", "Nothing done: give the number in international form, e.g. +447700900123."),
}
PHONE_FORM = re.compile(r"^\+[1-9]\d{6,14}$")
KIND_LABELS = {
    EventKind.PATIENT_MESSAGE: "message",
    EventKind.STAFF_REPLY: "reply",
    EventKind.NOTE: "note",
    EventKind.RESOLVED: "resolved",
}
DELIVERY_LABELS = {
    Delivery.SENT: "sent",
    Delivery.SANDBOX: "sandbox: not sent",
    Delivery.FAILED: "failed",
    Delivery.NEEDS_TEMPLATE: "not sent: template needed",
    Delivery.OPTED_OUT: "not sent: opted out",
    Delivery.TEMPLATE_INSTEAD: "template sent instead",
    Delivery.QUEUED: "queued: retrying",
}
OUTBOX_KIND_LABELS = {
    "reply": "bot reply",
    "staff_reply": "staff reply",
    "template": "template",
    "notice": "notice",
    "medication_reminder": "medication reminder",
    "appointment_reminder": "appointment reminder",
}


def _no_such_conversation() -> web.HTTPNotFound:
    return web.HTTPNotFound(
        text="No such conversation. Go back to /staff/conversations.", headers=SECURITY_HEADERS
    )


def waiting_time(since: dt.datetime, now: dt.datetime) -> str:
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 24:
        return f"{hours} h {minutes % 60} min"
    return f"{hours // 24} d {hours % 24} h"


class PatientRequests(Protocol):
    """A patient's export or erasure request handled by an admin (carebot.privacy.admin implements it; the backend
    passes it in, so this package never imports privacy). Blocking calls."""

    def export(self, staff: str, phone: str) -> str: ...

    def erase(self, staff: str, phone: str) -> str: ...


class DeadLetter(Protocol):
    id: int
    phone: str
    kind: str
    created_at: dt.datetime
    text: Optional[str]
    template: Optional[str]
    error: Optional[str]


class DeadLetters(Protocol):
    """The WhatsApp outbox's messages that could not be sent (carebot.channels.outbox.OutboxStore implements it;
    the backend passes it in, so this package never imports the channel). Blocking calls."""

    def dead_letters(self, limit: int = 100) -> List[Any]: ...

    def retry_dead(self, message_id: int, now: Optional[dt.datetime] = None) -> bool: ...

    def dismiss(self, message_id: int, now: Optional[dt.datetime] = None) -> bool: ...


# A patient's medication-reminder adherence by conversation id (Adherence.to_dict: doses, taken, WhatsApp delivered
# and read rates); carebot.reminders.api.adherence_for_staff implements it, passed in by the backend. Blocking.
AdherenceOf = Callable[[str], Dict[str, Any]]


class WaitingList(Protocol):
    """The waitlist's open entries, oldest first (carebot.waitlist.store.waiting_patients, bound by the backend, so
    this package never imports the waitlist). Blocking; each item has patient_name, phone, service_name, date_from,
    date_to, day_parts, state and joined."""

    def __call__(self) -> List[Any]: ...


class Attendance(Protocol):
    """Appointments staff should look at (unconfirmed near their start, started and still open) and recording a
    no-show (carebot.scheduling.store.StaffAttendance, passed in by the backend). Blocking calls."""

    def flags(self) -> List[Any]: ...

    def no_show(self, appointment_id: str) -> Any: ...


class Dashboard(Protocol):
    """The clinic dashboard's figures (carebot.dashboard.service.StaffDashboard, passed in by the backend, so this
    package never imports the dashboard). `period` raises ValueError with a message for the reader. Blocking."""

    def period(self, first: Optional[str], last: Optional[str]) -> Any: ...

    def report(self, period: Any) -> Any: ...

    def members(self, period: Any, key: str) -> Optional[List[str]]: ...


class Review(Protocol):
    """Conversation review (carebot.review.service.StaffReview, passed in by the backend). Blocking calls."""

    intents: List[str]
    flows: List[str]
    outcomes: List[str]

    def period(self, first: Optional[str], last: Optional[str]) -> Any: ...

    def confidence_below(self, text: Optional[str]) -> Optional[float]: ...

    def conversations(
        self,
        period: Any,
        intent: str,
        only_not_understood: bool,
        flow: str,
        outcome: str,
        below: Optional[float],
    ) -> List[Any]: ...

    def transcript(self, event_id: int) -> Optional[Tuple[str, List[Any]]]: ...

    def mark(self, event_id: int, intent: str, staff: str) -> bool: ...

    def save_story(self, event_id: int) -> Optional[Tuple[str, Any]]: ...


class StaffInbox:
    """Request handlers for /staff; `setup` in api.py registers them."""

    def __init__(
        self,
        service: HandoffService,
        auth: StaffAuth,
        clinic: Clinic,
        sessions: StaffSessions,
        audit: AuditLog,
        secure_cookies: bool = False,
        patient_requests: Optional[PatientRequests] = None,
        dead_letters: Optional[DeadLetters] = None,
        adherence: Optional[AdherenceOf] = None,
        waiting_list: Optional[WaitingList] = None,
        attendance: Optional[Attendance] = None,
        dashboard: Optional[Dashboard] = None,
        review: Optional[Review] = None,
    ) -> None:
        self.service, self.auth, self.clinic, self.sessions, self.audit = (
            service,
            auth,
            clinic,
            sessions,
            audit,
        )
        self.secure_cookies, self.patient_requests = secure_cookies, patient_requests
        self.dead_letters, self.waiting_list, self.attendance = dead_letters, waiting_list, attendance
        self.adherence, self.dashboard, self.review = adherence, dashboard, review

    def routes(self) -> list:
        return [
            web.get("/staff", self.list_cases),
            web.get("/staff/login", self.login_form),
            web.post("/staff/login", self.login),
            web.post("/staff/logout", self.logout),
            web.get("/staff/cases/{id:\\d+}", self.show_case),
            web.get("/staff/audit", self.show_audit),
            web.get("/staff/dashboard", self.show_dashboard),
            web.get("/staff/dashboard/list", self.show_dashboard_list),
            web.get("/staff/conversations", self.list_conversations),
            web.get("/staff/conversations/{id:\\d+}", self.show_conversation),
            web.post("/staff/conversations/{id:\\d+}/turns/{event:\\d+}/intent", self.mark_intent),
            web.post("/staff/conversations/{id:\\d+}/story", self.save_story),
            web.get("/staff/privacy/export", self.export_patient),
            web.post("/staff/privacy/erase", self.erase_patient),
            web.post("/staff/cases/{id:\\d+}/reply", self.reply),
            web.post("/staff/cases/{id:\\d+}/reopen", self.reopen),
            web.post("/staff/cases/{id:\\d+}/note", self.note),
            web.post("/staff/cases/{id:\\d+}/resolve", self.resolve),
            web.post("/staff/cases/{id:\\d+}/resume", self.resume),
            web.post("/staff/outbox/{id:\\d+}/{action:retry|dismiss}", self.outbox_action),
            web.post("/staff/cases/{id:\\d+}/release", self.release),
            web.post("/staff/appointments/{id:[A-Za-z0-9.-]+}/noshow", self.no_show),
            web.static("/staff/static", HERE / "static", append_version=False),
        ]

    # ---- rendering -------------------------------------------------------------------------------------------------

    def _local(self, moment: Optional[dt.datetime]) -> str:
        return moment.astimezone(self.clinic.tz).strftime("%a %d %b %H:%M") if moment else ""

    def _page(self, template: str, status: int = 200, **context: Any) -> web.Response:
        context.setdefault("staff", None)
        context.setdefault("csrf", "")
        context.setdefault("notice", None)
        html = _TEMPLATES.get_template(template).render(clinic_name=self.clinic.name, **context)
        return web.Response(text=html, status=status, content_type="text/html", headers=SECURITY_HEADERS)

    def _staff_page(self, template: str, session: Session, **context: Any) -> web.Response:
        """A page for a logged-in member of staff: their name in the header and the CSRF token of their forms."""
        return self._page(template, staff=session.staff, csrf=self.auth.csrf_token(session.token), **context)

    def _notice(self, request: web.Request) -> Optional[Dict[str, str]]:
        code = request.query.get("done", "")
        if code in NOTICES:
            level, text = NOTICES[code]
            return {"level": level, "text": text}
        return None

    def _case_view(self, case: Case, now: dt.datetime) -> Dict[str, Any]:
        return {
            "id": case.id,
            "status": case.status,
            "is_open": case.is_open,
            "patient_phone": case.patient_phone,
            "masked_phone": mask_phone(case.patient_phone),
            "reason": case.reason.value,
            "reason_label": REASON_LABELS[case.reason],
            "transcript": case.transcript,
            "created": self._local(case.created_at),
            "since_iso": case.created_at.isoformat(),
            "waiting": waiting_time(case.created_at, now),
            "resolved_by": case.resolved_by,
            "resolved": self._local(case.resolved_at),
            "assigned_to": case.assigned_to or "",
        }

    def _event_view(self, event: Event) -> Dict[str, Any]:
        return {
            "kind": event.kind.value,
            "kind_label": KIND_LABELS[event.kind],
            "author": event.author,
            "text": event.text,
            "at": self._local(event.at),
            "delivery_status": event.delivery_status.value if event.delivery_status else "",
            "delivery": DELIVERY_LABELS[event.delivery_status] if event.delivery_status else "",
        }

    # ---- sessions --------------------------------------------------------------------------------------------------

    async def _session(self, request: web.Request) -> Optional[Session]:
        """A signed, unexpired cookie whose server-side session is still live (not logged out, password unchanged)."""
        now = self.service.clock()
        session = self.auth.validate(request.cookies.get(SESSION_COOKIE), now)
        if session is None or not await run_db(self.sessions.is_live, session.token, now):
            return None
        return session

    def _to_login(self, request: web.Request) -> web.HTTPSeeOther:
        expired = "?expired=1" if request.cookies.get(SESSION_COOKIE) else ""
        response = web.HTTPSeeOther(f"/staff/login{expired}", headers=SECURITY_HEADERS)
        response.del_cookie(SESSION_COOKIE, path="/staff")
        return response

    async def _require(self, request: web.Request) -> Session:
        session = await self._session(request)
        if session is None:
            raise self._to_login(request)
        return session

    async def _require_post(self, request: web.Request) -> tuple:
        """The session and form of a staff POST; a bad CSRF token is refused before anything changes."""
        session = await self._require(request)
        form = await request.post()
        if not self.auth.check_csrf(session.token, form.get("csrf")):
            raise web.HTTPForbidden(
                text="The form expired or did not come from this page. Go back, reload and try again."
            )
        return session, form

    def _cookie(self, response: web.StreamResponse, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/staff",
            httponly=True,
            samesite="Strict",
            secure=self.secure_cookies or mode.secure_cookies(),
        )

    # ---- login -----------------------------------------------------------------------------------------------------

    async def login_form(self, request: web.Request) -> web.Response:
        notice = (
            {"level": "warn", "text": "Your session has expired. Please log in again."}
            if request.query.get("expired")
            else None
        )
        return self._login_page(notice=notice)

    def _login_page(
        self, notice: Optional[Dict[str, str]] = None, status: int = 200, name: str = ""
    ) -> web.Response:
        nonce = secrets.token_urlsafe(16)
        response = self._page(
            "login.html", status=status, notice=notice, name=name, csrf=self.auth.csrf_token(f"login|{nonce}")
        )
        self._cookie(response, LOGIN_COOKIE, nonce, max_age=3600)
        return response

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if not nonce or not self.auth.check_csrf(f"login|{nonce}", form.get("csrf")):
            return self._login_page(
                {"level": "error", "text": "The login form expired. Please try again."}, 403
            )
        name, password = str(form.get("name", "")).strip()[:64], str(form.get("password", ""))
        now = self.service.clock()
        locked_until = await run_db(self.sessions.locked_until, name, now)
        if locked_until is not None:
            minutes = max(1, -int((now - locked_until).total_seconds() // 60))
            return self._login_page(
                {
                    "level": "error",
                    "text": f"Too many wrong passwords for this name. "
                    f"Try again in {minutes} min, or ask an administrator.",
                },
                429,
                name=name,
            )
        # PBKDF2 is deliberately slow (~0.2 s): keep it off the event loop so other staff pages stay responsive.
        if not await asyncio.to_thread(self.auth.check_password, name, password):
            await run_db(self.sessions.record_failure, name, now)
            return self._login_page({"level": "error", "text": "Wrong name or password."}, 401, name=name)
        # A wrong or replayed code counts towards the lockout too.
        if not await self._second_factor(name, str(form.get("code", "")), now):
            await run_db(self.sessions.record_failure, name, now)
            return self._login_page(
                {"level": "error", "text": "Wrong or expired code from your authenticator app."},
                401,
                name=name,
            )
        await run_db(self.sessions.clear_failures, name)
        session = self.auth.issue(name, now)
        await run_db(self.sessions.start, name, session.token, session.expires_at)
        response = web.HTTPSeeOther("/staff", headers=SECURITY_HEADERS)
        self._cookie(response, SESSION_COOKIE, session.token, max_age=self.auth.minutes * 60)
        response.del_cookie(LOGIN_COOKIE, path="/staff")
        raise response

    async def _second_factor(self, name: str, code: str, now: dt.datetime) -> bool:
        """True when `name` has no second factor, or `code` is a current code not used before (no replay)."""
        if not self.auth.needs_code(name):
            return True
        step = self.auth.code_step(name, code, now)
        return step is not None and await run_db(self.sessions.accept_code_step, name, step)

    async def logout(self, request: web.Request) -> web.Response:
        session, _ = await self._require_post(request)
        await run_db(self.sessions.end, session.token)
        response = web.HTTPSeeOther("/staff/login", headers=SECURITY_HEADERS)
        response.del_cookie(SESSION_COOKIE, path="/staff")
        raise response

    # ---- pages -----------------------------------------------------------------------------------------------------

    def _is_admin(self, session: Session) -> bool:
        return session.staff in self.auth.admins

    async def list_cases(self, request: web.Request) -> web.Response:
        """The queue: open cases nobody took and the viewer's own (an admin's: every open case)."""
        session = await self._require(request)
        now = self.service.clock()
        visible_to = None if self._is_admin(session) else session.staff
        cases = await run_db(self.service.store.list_open, visible_to)
        shown = ", ".join(str(case.id) for case in cases) or "none"
        await self._audit(session, "list cases", detail=f"open cases {shown}")
        held = await run_db(notices, self.service.store.engine)
        staff_notices = [(self._local(at), text) for at, text in held]
        dead = await asyncio.to_thread(self.dead_letters.dead_letters) if self.dead_letters else []
        waiting = await run_db(self.waiting_list) if self.waiting_list else []
        flagged = await run_db(self.attendance.flags) if self.attendance else []
        return self._staff_page(
            "inbox.html",
            session,
            cases=[self._case_view(c, now) for c in cases],
            notice=self._notice(request),
            staff_notices=staff_notices,
            dead_letters=[self._dead_letter_view(d) for d in dead],
            waiting=[self._waiting_view(w) for w in waiting],
            attendance=[self._attendance_view(f) for f in flagged],
        )

    def _attendance_view(self, flag: Any) -> Dict[str, Any]:
        service = self.clinic.service(flag.service_id)
        return {
            "id": flag.appointment_id,
            "name": flag.patient_name,
            "masked_phone": mask_phone(flag.phone),
            "service": service.name if service else flag.service_id,
            "when": self._local(flag.start.replace(tzinfo=dt.timezone.utc)),
            "state": "started, not marked" if flag.started else "not confirmed",
            "started": flag.started,
            "no_shows": flag.no_shows,
        }

    async def no_show(self, request: web.Request) -> web.Response:
        """Record a no-show (counted per patient on this page); every one is in the audit log."""
        session, _form = await self._require_post(request)
        if self.attendance is None:
            raise web.HTTPNotFound()
        appointment_id = request.match_info["id"]
        await run_db(self.attendance.no_show, appointment_id)
        await self._audit(session, "record no-show", detail=f"Appointment/{appointment_id}")
        raise web.HTTPSeeOther("/staff?done=noshow", headers=SECURITY_HEADERS)

    def _waiting_view(self, waiting: Any) -> Dict[str, Any]:
        days = waiting.date_from.strftime("%a %d %b")
        if waiting.date_to != waiting.date_from:
            days += " – " + waiting.date_to.strftime("%a %d %b")
        return {
            "name": waiting.patient_name,
            "masked_phone": mask_phone(waiting.phone),
            "service": waiting.service_name,
            "days": days,
            "times": ", ".join(waiting.day_parts) if len(waiting.day_parts) < 3 else "any time",
            "state": "offer out" if waiting.state == "offered" else "waiting",
            "joined": self._local(waiting.joined),
        }

    def _dead_letter_view(self, message: DeadLetter) -> Dict[str, Any]:
        words = message.text or (f"[template {message.template}]" if message.template else "")
        return {
            "id": message.id,
            "masked_phone": mask_phone(message.phone),
            "kind": OUTBOX_KIND_LABELS.get(message.kind, message.kind),
            "at": self._local(message.created_at),
            "reason": message.error or "unknown",
            "preview": words if len(words) <= 160 else words[:157] + "…",
        }

    async def outbox_action(self, request: web.Request) -> web.Response:
        """Retry (queued again with a fresh deadline; the relay sends it) or dismiss a dead letter."""
        session, _form = await self._require_post(request)
        if self.dead_letters is None:
            raise web.HTTPNotFound(
                text="The WhatsApp outbox is not available here.", headers=SECURITY_HEADERS
            )
        message_id, action = int(request.match_info["id"]), request.match_info["action"]
        change = self.dead_letters.retry_dead if action == "retry" else self.dead_letters.dismiss
        done = await asyncio.to_thread(change, message_id, self.service.clock())
        if done:
            await run_db(
                self.audit.record,
                session.staff,
                f"outbox {action}",
                None,
                f"message {message_id}",
                self.service.clock(),
            )
        code = ("outbox_retried" if action == "retry" else "outbox_dismissed") if done else "outbox_gone"
        raise web.HTTPSeeOther(f"/staff?done={code}", headers=SECURITY_HEADERS)

    async def _audit(
        self, session: Session, action: str, phone: Optional[str] = None, detail: str = ""
    ) -> None:
        """Record in the audit log that `session`'s staff member did `action` (on `phone`'s records)."""
        await run_db(self.audit.record, f"staff:{session.staff}", action, phone, detail)

    async def _case(self, request: web.Request, session: Session, action: str) -> Case:
        """The case of the URL if `session`'s staff member may see it (an open case nobody has taken becomes
        theirs), after recording in the audit log that they did `action` on it; a refusal is recorded too."""
        try:
            case = await run_db(self.service.store.get, int(request.match_info["id"]))
        except CaseNotFound:
            raise web.HTTPNotFound(text="No such case. It may have been typed wrongly: go back to /staff.")
        admin = self._is_admin(session)
        if case.visible_to(session.staff, admin) and case.assigned_to is None and case.is_open:
            # A colleague may take it at the same moment: the case comes back as it now is, with its taker.
            case = await run_db(self.service.store.take, case.id, session.staff)
            if case.assigned_to == session.staff:
                await self._audit(session, "take case", case.patient_phone, f"case {case.id}")
        if not case.visible_to(session.staff, admin):
            await self._audit(session, f"{action} refused", case.patient_phone, f"case {case.id}")
            raise web.HTTPForbidden(
                text=f"Case #{case.id} is handled by {case.assigned_to or 'another member of staff'}; "
                "only they and an administrator can open it. Go back to /staff.",
                headers=SECURITY_HEADERS,
            )
        await self._audit(session, action, case.patient_phone, f"case {case.id}")
        return case

    async def show_case(self, request: web.Request) -> web.Response:
        session = await self._require(request)
        case = await self._case(request, session, "read case")
        now = self.service.clock()
        events = await run_db(self.service.store.events, case.id)
        opted_out, in_window = await self.service.contact_state(case.patient_phone)
        bot_messages = await self.service.bot_conversation(case)
        adherence = await self._adherence(case)
        if bot_messages is not None:
            bot_messages = [dict(m, at=self._local(m["at"])) for m in bot_messages]
        notice = self._notice(request)
        if request.query.get("done") == "already_resolved":
            notice = {
                "level": "warn",
                "text": f"Already resolved by {case.resolved_by} at {self._local(case.resolved_at)}.",
            }
        return self._staff_page(
            "case.html",
            session,
            notice=notice,
            case=self._case_view(case, now),
            events=[self._event_view(e) for e in events],
            bot_messages=bot_messages,
            opted_out=opted_out,
            in_window=in_window,
            reopen_template=REOPEN_TEMPLATE,
            adherence=adherence,
        )

    async def _adherence(self, case: Case) -> Optional[Dict[str, Any]]:
        """The patient's reminder adherence for the case page; None without reminders data (never a failed page)."""
        if self.adherence is None:
            return None
        try:
            return await run_db(self.adherence, case.conversation_id)
        except Exception:  # noqa: BLE001 - the case must open even when the reminders' figures cannot be read
            log.exception("staff inbox: adherence of case %s could not be read", case.id)
            return None

    def _admin(self, session: Session) -> Session:
        if session.staff not in self.auth.admins:
            raise web.HTTPForbidden(
                text="Only an administrator can do this (the audit log, erasure and export)."
            )
        return session

    async def show_audit(self, request: web.Request) -> web.Response:
        """The audit log, for admins only (STAFF_ADMINS); looking at it is itself recorded."""
        session = self._admin(await self._require(request))
        await self._audit(session, "read audit log")
        entries, broken = await run_db(self.audit.entries), await run_db(self.audit.verify)
        chain = (
            "Hash chain intact."
            if broken is None
            else f"Hash chain broken at entry {broken}: entries were altered."
        )
        return self._staff_page(
            "audit.html",
            session,
            intact=broken is None,
            chain=chain,
            notice=self._notice(request),
            entries=[dict(e.__dict__, at=self._local(e.at), patient=(e.patient or "")[:12]) for e in entries],
        )

    # ---- the dashboard (admin and staff; identities only for admins who ask) ----------------------------------------

    async def _dashboard_viewer(self, request: web.Request) -> Tuple[Optional[Session], bool]:
        """The viewer (None: not logged in) and whether identities are shown; a staff member asking for identities
        is refused (403) and the refusal is in the audit log."""
        if self.dashboard is None:
            raise web.HTTPNotFound(text="The dashboard is not available here.", headers=SECURITY_HEADERS)
        session = await self._session(request)
        shown = request.query.get("identities") == "shown"
        if session is not None and shown and not self._is_admin(session):
            await self._audit(session, "dashboard identities refused")
            raise web.HTTPForbidden(
                text="Only an administrator can see patients' numbers on the dashboard.",
                headers=SECURITY_HEADERS,
            )
        return session, shown

    def _dashboard_login(self) -> web.Response:
        """401 with the login form: the dashboard's figures are for logged-in staff only."""
        return self._login_page({"level": "warn", "text": "Log in to see the dashboard."}, status=401)

    async def _period(self, request: web.Request, dashboard: Dashboard) -> Any:
        try:
            return dashboard.period(request.query.get("from"), request.query.get("to"))
        except ValueError as error:
            raise web.HTTPBadRequest(text=f"{error} Go back to /staff/dashboard.", headers=SECURITY_HEADERS)

    async def show_dashboard(self, request: web.Request) -> web.Response:
        """The clinic's figures for a period (default: the last 30 days)."""
        session, shown = await self._dashboard_viewer(request)
        if session is None or self.dashboard is None:
            return self._dashboard_login()
        period = await self._period(request, self.dashboard)
        report = await run_db(self.dashboard.report, period)
        await self._audit(session, "read dashboard", detail=period.query)
        return self._staff_page(
            "dashboard.html",
            session,
            report=report,
            period=period,
            admin=self._is_admin(session),
            shown=shown,
        )

    async def show_dashboard_list(self, request: web.Request) -> web.Response:
        """The patients behind one figure: masked numbers, or (an admin who asks) the conversation ids."""
        session, shown = await self._dashboard_viewer(request)
        if session is None or self.dashboard is None:
            return self._dashboard_login()
        period = await self._period(request, self.dashboard)
        key = request.query.get("figure", "")
        members = await run_db(self.dashboard.members, period, key)
        if members is None:
            raise web.HTTPNotFound(
                text="No such figure on the dashboard. Go back to /staff/dashboard.", headers=SECURITY_HEADERS
            )
        await self._audit(
            session,
            "read dashboard list" + (" with identities" if shown else ""),
            detail=f"{key} {period.query}",
        )
        return self._staff_page(
            "dashboard_list.html",
            session,
            period=period,
            figure=key,
            members=[member if shown else mask_phone(member) for member in members],
            admin=self._is_admin(session),
            shown=shown,
        )

    # ---- conversation review ---------------------------------------------------------------------------------------

    def _review(self) -> Review:
        if self.review is None:
            raise web.HTTPNotFound(
                text="Conversation review is not available here.", headers=SECURITY_HEADERS
            )
        return self.review

    async def list_conversations(self, request: web.Request) -> web.Response:
        """A period's conversations, searchable by intent, flow, outcome, lowest confidence and whether the bot failed
        to understand a message."""
        review, session = self._review(), await self._session(request)
        if session is None:
            return self._login_page({"level": "warn", "text": "Log in to review conversations."}, status=401)
        try:
            period = review.period(request.query.get("from"), request.query.get("to"))
            below = review.confidence_below(request.query.get("below"))
        except ValueError as error:
            raise web.HTTPBadRequest(
                text=f"{error} Go back to /staff/conversations.", headers=SECURITY_HEADERS
            )
        intent = request.query.get("intent", "")
        intent = intent if intent in review.intents else ""
        flow = request.query.get("flow", "")
        flow = flow if flow in review.flows else ""
        outcome = request.query.get("outcome", "")
        outcome = outcome if outcome in review.outcomes else ""
        only = request.query.get("fallback") == "1"
        found = await run_db(review.conversations, period, intent, only, flow, outcome, below)
        await self._audit(session, "list conversations", detail=period.query)
        return self._staff_page(
            "conversations.html",
            session,
            period=period,
            intents=review.intents,
            intent=intent,
            flows=review.flows,
            flow=flow,
            outcomes=review.outcomes,
            outcome=outcome,
            below="" if below is None else f"{below:g}",
            only=only,
            conversations=[
                {
                    "id": c.first_event,
                    "masked_phone": mask_phone(c.sender),
                    "messages": c.messages,
                    "not_understood": c.not_understood,
                    "started": self._local(c.started),
                }
                for c in found
            ],
        )

    async def show_conversation(self, request: web.Request) -> web.Response:
        """One conversation turn by turn: intents, confidences, entities, actions and slots; patient messages can be
        marked with the intent they meant."""
        review, session = self._review(), await self._session(request)
        if session is None:
            return self._login_page({"level": "warn", "text": "Log in to review conversations."}, status=401)
        found = await run_db(review.transcript, int(request.match_info["id"]))
        if found is None:
            raise _no_such_conversation()
        sender, shown = found
        await self._audit(session, "read conversation", sender, f"conversation {request.match_info['id']}")
        done = request.query.get("done")
        notice = {
            "marked": {"level": "ok", "text": "Marked: the message waits in the review queue for export."},
            "refused": {"level": "error", "text": "Not marked: choose one of the bot's intents."},
            "story": {
                "level": "ok",
                "text": "Saved as a test story (patient details masked): "
                f"review_{request.match_info['id']}.yml in the stories folder.",
            },
        }.get(done or "")
        return self._staff_page(
            "conversation.html",
            session,
            notice=notice,
            conversation=request.match_info["id"],
            masked_phone=mask_phone(sender),
            turns=[dict(t.__dict__, at=self._local(t.at)) for t in shown],
            intents=review.intents,
        )

    async def mark_intent(self, request: web.Request) -> web.Response:
        """ "Wrong intent → X": the message joins the review queue (`python -m carebot.review export`)."""
        session, form = await self._require_post(request)
        review = self._review()
        event_id, intent = int(request.match_info["event"]), str(form.get("intent", ""))
        marked = await run_db(review.mark, event_id, intent, session.staff)
        if marked:
            await self._audit(session, "mark intent", detail=f"event {event_id} -> {intent}")
        code = "marked" if marked else "refused"
        raise web.HTTPSeeOther(
            f"/staff/conversations/{request.match_info['id']}?done={code}#turn-{event_id}",
            headers=SECURITY_HEADERS,
        )

    async def save_story(self, request: web.Request) -> web.Response:
        """ "Save as test story": the conversation, masked, becomes a tests/stories entry a designer commits."""
        session, _ = await self._require_post(request)
        review, conversation = self._review(), request.match_info["id"]
        try:
            saved = await run_db(review.save_story, int(conversation))
        except ValueError as error:  # StoryError: this conversation cannot be replayed
            raise web.HTTPBadRequest(
                text=f"Not saved: {error} Go back to /staff/conversations/{conversation}.",
                headers=SECURITY_HEADERS,
            )
        if saved is None:
            raise _no_such_conversation()
        sender, path = saved
        await self._audit(session, "save test story", sender, f"conversation {conversation} -> {path.name}")
        raise web.HTTPSeeOther(f"/staff/conversations/{conversation}?done=story", headers=SECURITY_HEADERS)

    # ---- a patient's request, handled by an admin -------------------------------------------------------------------

    def _requests(self) -> PatientRequests:
        if self.patient_requests is None:
            raise web.HTTPNotFound(text="Patient requests are not available here.", headers=SECURITY_HEADERS)
        return self.patient_requests

    async def export_patient(self, request: web.Request) -> web.StreamResponse:
        """A subject access request: everything held about the number, as a FHIR Bundle download."""
        session = self._admin(await self._require(request))
        phone = request.query.get("phone", "").strip()
        if not PHONE_FORM.match(phone):
            raise web.HTTPSeeOther("/staff/audit?done=bad_phone", headers=SECURITY_HEADERS)
        bundle = await run_db(self._requests().export, session.staff, phone)
        return web.Response(
            text=bundle,
            content_type="application/fhir+json",
            headers={**SECURITY_HEADERS, "Content-Disposition": 'attachment; filename="patient-export.json"'},
        )

    async def erase_patient(self, request: web.Request) -> web.Response:
        session, form = await self._require_post(request)
        self._admin(session)
        phone = str(form.get("phone") or "").strip()
        if not PHONE_FORM.match(phone):
            code = "bad_phone"
        elif form.get("confirm") != "yes":
            code = "not_confirmed"
        else:
            await run_db(self._requests().erase, session.staff, phone)
            code = "erased"
        return web.HTTPSeeOther(f"/staff/audit?done={code}", headers=SECURITY_HEADERS)

    # ---- actions ---------------------------------------------------------------------------------------------------

    @staticmethod
    def _back(case: Case, code: str) -> web.HTTPSeeOther:
        return web.HTTPSeeOther(f"/staff/cases/{case.id}?done={code}", headers=SECURITY_HEADERS)

    @staticmethod
    def _text(form: Any) -> tuple:
        text = str(form.get("text", "")).strip()
        if not text:
            return text, "empty"
        if len(text) > MAX_TEXT_CHARS:
            return text, "too_long"
        return text, None

    async def reply(self, request: web.Request) -> web.Response:
        session, form = await self._require_post(request)
        case = await self._case(request, session, "reply")
        text, problem = self._text(form)
        if problem or not case.is_open:
            raise self._back(case, problem or "closed")
        event = await self.service.reply(case.id, session.staff, text)
        raise self._back(case, event.delivery_status.value)

    async def reopen(self, request: web.Request) -> web.Response:
        session, _ = await self._require_post(request)
        case = await self._case(request, session, "reopen")
        if not case.is_open:
            raise self._back(case, "closed")
        event = await self.service.send_reopen_template(case.id, session.staff)
        raise self._back(case, event.delivery_status.value)

    async def note(self, request: web.Request) -> web.Response:
        session, form = await self._require_post(request)
        case = await self._case(request, session, "note")
        text, problem = self._text(form)
        if problem:
            raise self._back(case, problem)
        await self.service.note(case.id, session.staff, text)
        raise self._back(case, "note")

    async def resolve(self, request: web.Request) -> web.Response:
        session, _ = await self._require_post(request)
        case = await self._case(request, session, "resolve")
        try:
            await self.service.resolve(case.id, session.staff)
        except AlreadyResolved:
            raise self._back(case, "already_resolved")
        except ResumeFailed:
            raise self._back(case, "resume_failed")
        raise self._back(case, "resolved")

    async def resume(self, request: web.Request) -> web.Response:
        session, _ = await self._require_post(request)
        case = await self._case(request, session, "resume")
        if case.is_open:  # the bot stays paused while staff own the conversation
            raise self._back(case, "")
        try:
            await self.service.resume_bot(case, session.staff)
        except ResumeFailed:
            raise self._back(case, "resume_failed")
        raise self._back(case, "resumed")

    async def release(self, request: web.Request) -> web.Response:
        """Put a taken case back in the queue (its taker, or an admin), e.g. at the end of a shift."""
        session, _ = await self._require_post(request)
        case = await self._case(request, session, "return to queue")
        await run_db(self.service.store.put_back, case.id)
        raise web.HTTPSeeOther("/staff?done=released", headers=SECURITY_HEADERS)
