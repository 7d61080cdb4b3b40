"""The backend aiohttp application: auth, error handling, and the registry of APIs mounted on it.

To add an API, add its `setup(app, engine, clinic)` to `API_SETUPS`: it adds the module's routes. This module is
the composition root: it imports the features (and hands the handoff API the WhatsApp sender), the features
never import it. The database is brought to the newest migration (carebot/migrations) before serving.

Paths under `/fhir` and `/api` need `Authorization: Bearer <token>` (health data). Anything else — e.g. the
`/staff` browser page, which has its own login — is outside the bearer check. Least privilege: the full token
(CAREBOT_BACKEND_TOKEN) is the action server's; the WhatsApp channel's token (HANDOFF_CHANNEL_TOKEN) may only append a
patient message to an open case, ask whether one is open, and close it for a privacy request the bot carries out.
Every call is written to the audit log (carebot.backend.audit): which token, which route (its pattern, never a phone
in a path), the patient searched for.
"""

from __future__ import annotations

import functools
import hmac
import logging
import re
from typing import Awaitable, Callable, Dict, Optional, Tuple

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from carebot import migrations, settings
from carebot.backend.audit import AuditLog
from carebot.backend.db import make_engine, run_db
from carebot.backend.errors import ApiError, error_response
from carebot.channels.twilio_sender import WhatsAppSender
from carebot.clinic import Clinic
from carebot.dashboard.service import StaffDashboard
from carebot.dashboard.store import DashboardStore
from carebot.handoff import api as handoff_api
from carebot.identity import api as identity_api
from carebot.privacy import api as privacy_api
from carebot.privacy.admin import PatientRequests
from carebot.privacy.stores import tracker_database_url
from carebot.reminders import api as reminders_api
from carebot.reminders.dispatcher import whatsapp_delivery_statuses
from carebot.review.service import StaffReview
from carebot.review.store import ReviewStore, domain_intents
from carebot.scheduling import api as scheduling_api
from carebot.scheduling import store as scheduling_store
from carebot.waitlist import api as waitlist_api
from carebot.waitlist import store as waitlist_store

log = logging.getLogger(__name__)

ApiSetup = Callable[[web.Application, Engine, Clinic], None]


def _handoff_setup(app: web.Application, engine: Engine, clinic: Clinic) -> None:
    url = (
        tracker_database_url()
    )  # Rasa's tracker store (the endpoints file's SQL store): dashboard and review read it
    tracker = make_engine(url) if url else None
    dashboard = DashboardStore(
        engine, tracker, whatsapp_delivery_statuses
    )  # review searches by its figures too
    handoff_api.setup(
        app,
        engine,
        clinic,
        sender=WhatsAppSender.from_env(),
        patient_requests=PatientRequests(engine, clinic),
        adherence=reminders_api.adherence_for_staff(engine),
        waiting_list=functools.partial(waitlist_store.waiting_patients, engine, clinic),
        attendance=scheduling_store.StaffAttendance(engine, clinic),
        dashboard=StaffDashboard(dashboard, clinic),
        review=StaffReview(
            ReviewStore(engine, tracker, domain_intents()),
            clinic,
            settings.current().review_stories_dir,
            dashboard.members,
        ),
    )


# Every API served by the backend, one per line.
API_SETUPS: Tuple[ApiSetup, ...] = (
    scheduling_api.setup,
    _handoff_setup,
    reminders_api.setup,
    privacy_api.setup,
    waitlist_api.setup,
    identity_api.setup,
)

PROTECTED_PREFIXES = ("/fhir", "/api")
MAX_BODY_BYTES = 64 * 1024
ENGINE_KEY = web.AppKey("engine", Engine)
CLINIC_KEY = web.AppKey("clinic", Clinic)
TOKEN_KEY = web.AppKey("token", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Scope = Callable[[str, str], bool]  # (method, path) → allowed
Grant = Tuple[str, Scope]  # the token holder's name in the audit log, and what it may call
_CHANNEL_ROUTES = re.compile(
    r"^(POST /api/handoff/messages|GET /api/handoff/conversations/[^/]+"
    r"|POST /api/handoff/conversations/[^/]+/privacy-request)$"
)


def full_scope(_method: str, _path: str) -> bool:
    return True


def channel_scope(method: str, path: str) -> bool:
    """What the WhatsApp channel needs of the backend: append to an open case, ask whether one is open, and hand a
    patient's privacy request made during a case back to the bot."""
    return bool(_CHANNEL_ROUTES.match(f"{method} {path}"))


def _is_protected(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in PROTECTED_PREFIXES)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into an OperationOutcome; log unexpected ones server-side only."""
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(error.status, error.message, error.code, error.headers)
    except web.HTTPException as error:
        if error.status < 400 or not _is_protected(request.path):
            raise
        return error_response(error.status, error.reason or "request failed")
    except OperationalError:
        log.exception("database unavailable during %s %s", request.method, request.path)
        return error_response(
            503, "the database is busy or unavailable, please retry shortly", headers={"Retry-After": "2"}
        )
    except Exception:  # noqa: BLE001 - the last line of defence: never leak a traceback to a client
        log.exception("unhandled error during %s %s", request.method, request.path)
        return error_response(500, "internal error; the request was not applied")


def _grant_of(given: bytes, grants: Dict[str, Grant]) -> Optional[Grant]:
    """The grant of the token `given` (an `Authorization` header); every token is compared, in constant time."""
    found = None
    for token, grant in grants.items():
        if hmac.compare_digest(given, f"Bearer {token}".encode()):
            found = grant
    return found


def _route_pattern(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else request.path[:60]


def bearer_middleware(grants: Dict[str, Grant], audit: AuditLog) -> Callable:
    @web.middleware
    async def check_bearer(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not _is_protected(request.path):
            return await handler(request)
        grant = _grant_of(request.headers.get("Authorization", "").encode(), grants)
        if grant is None:
            return error_response(
                401, "missing or wrong bearer token", "login", headers={"WWW-Authenticate": "Bearer"}
            )
        holder, scope = grant
        if not scope(request.method, request.path):
            await run_db(
                audit.record,
                f"token:{holder}",
                f"{request.method} {_route_pattern(request)}",
                detail="refused: outside this token's scope",
            )
            return error_response(403, "this token may not use this API", "forbidden")
        response = await handler(request)
        phone = (
            request.query.get("telecom") or request.query.get("phone") or request.query.get("patient_phone")
        )
        await run_db(
            audit.record,
            f"token:{holder}",
            f"{request.method} {_route_pattern(request)}",
            phone.rpartition("|")[2].replace(" ", "+") if phone else None,
            f"status {response.status}",
        )
        return response

    return check_bearer


async def health(request: web.Request) -> web.Response:
    """`GET /health` (no token, no patient data): 200 while the database answers, else 503. The load balancer and
    the container probes route traffic by it (carebot/healthcheck.py)."""
    engine: Engine = request.app[ENGINE_KEY]
    try:
        await run_db(_ping, engine)
    except OperationalError:
        return web.json_response({"status": "database unavailable"}, status=503)
    return web.json_response({"status": "ok"})


def _ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def create_app(
    engine: Engine, clinic: Clinic, token: str, channel_token: Optional[str] = None
) -> web.Application:
    """The backend application with every API in `API_SETUPS` mounted and its database migrated."""
    if not token:
        raise ValueError("the backend needs a non-empty bearer token")
    grants: Dict[str, Grant] = {token: ("actions", full_scope)}
    if channel_token:
        if channel_token == token:
            raise ValueError("the channel's token must differ from the backend's full token")
        grants[channel_token] = ("whatsapp-channel", channel_scope)
    app = web.Application(
        middlewares=[error_middleware, bearer_middleware(grants, AuditLog(engine))],
        client_max_size=MAX_BODY_BYTES,
    )
    app[ENGINE_KEY], app[CLINIC_KEY], app[TOKEN_KEY] = engine, clinic, token
    for setup in API_SETUPS:
        setup(app, engine, clinic)
    app.router.add_get("/health", health)
    migrations.upgrade(engine, migrations.BACKEND)
    return app
