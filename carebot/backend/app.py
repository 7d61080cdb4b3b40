"""The backend aiohttp application: auth, error handling, and the registry of APIs mounted on it.

To add an API, put its module in `API_MODULES`; the module exposes `setup(app, engine, clinic)` that adds its
routes (and, if it keeps its own MetaData, creates its tables). Tables on the shared `carebot.backend.db.metadata`
are created after all setups ran.

Paths under `/fhir` and `/api` need `Authorization: Bearer <token>` (health data). Anything else — e.g. the
`/staff` browser page, which has its own login — is outside the bearer check.
"""
from __future__ import annotations

import hmac
import importlib
import logging
from typing import Awaitable, Callable

from aiohttp import web
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from carebot.backend.db import create_tables
from carebot.backend.errors import ApiError, error_response
from carebot.clinic import Clinic

log = logging.getLogger(__name__)

# Every API served by the backend: one module per line, each with `setup(app, engine, clinic)`.
API_MODULES = (
    "carebot.scheduling.api",
    "carebot.handoff.api",
    "carebot.reminders.api",
)

PROTECTED_PREFIXES = ("/fhir", "/api")
MAX_BODY_BYTES = 64 * 1024
ENGINE_KEY = web.AppKey("engine", Engine)
CLINIC_KEY = web.AppKey("clinic", Clinic)
TOKEN_KEY = web.AppKey("token", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
        return error_response(503, "the database is busy or unavailable, please retry shortly",
                              headers={"Retry-After": "2"})
    except Exception:  # noqa: BLE001 - the last line of defence: never leak a traceback to a client
        log.exception("unhandled error during %s %s", request.method, request.path)
        return error_response(500, "internal error; the request was not applied")


def bearer_middleware(token: str) -> Callable:
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def check_bearer(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _is_protected(request.path):
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return error_response(401, "missing or wrong bearer token", "login",
                                      headers={"WWW-Authenticate": "Bearer"})
        return await handler(request)

    return check_bearer


def create_app(engine: Engine, clinic: Clinic, token: str) -> web.Application:
    """The backend application with every API in `API_MODULES` mounted and its tables created."""
    if not token:
        raise ValueError("the backend needs a non-empty bearer token")
    app = web.Application(
        middlewares=[error_middleware, bearer_middleware(token)], client_max_size=MAX_BODY_BYTES,
    )
    app[ENGINE_KEY], app[CLINIC_KEY], app[TOKEN_KEY] = engine, clinic, token
    for module_name in API_MODULES:
        importlib.import_module(module_name).setup(app, engine, clinic)
    create_tables(engine)
    return app
