"""Development or production: `CAREBOT_MODE=production` turns the safe-by-default checks into refusals.

`make run` stays the development default (loopback only, REST channel open for trying the bot). Production mode
requires what a clinic's data-protection officer signs off: no anonymous REST channel, `Secure` cookies, long
secrets, and no bind beyond loopback unless TLS is terminated in front (`CAREBOT_TLS_TERMINATED=1`, set by the
operator who configured the proxy). docs/operations.md "Production mode" and docs/security.md explain each rule.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Mapping

from carebot.settings import load

TLS_ENV = "CAREBOT_TLS_TERMINATED"
PRODUCTION = "production"
MIN_PRODUCTION_SECRET_CHARS = 32  # a generated token is 43 characters; 32 still gives ≥ 190 bits of base64


class ModeError(RuntimeError):
    """A setting production mode refuses, phrased for the operator who must change it."""


def is_production(environ: Mapping[str, str] = os.environ) -> bool:
    return load(environ).carebot_mode.lower() == PRODUCTION


def check_secret(name: str, value: str, environ: Mapping[str, str] = os.environ) -> str:
    """`value` stripped, or ModeError: an empty secret is never a key; a short one is refused in production."""
    value = value.strip()
    if not value:
        raise ModeError(f"{name} is empty: delete it (a new one is generated) or set a random value")
    if is_production(environ) and len(value) < MIN_PRODUCTION_SECRET_CHARS:
        raise ModeError(
            f"{name} has {len(value)} characters; production mode needs at least "
            f"{MIN_PRODUCTION_SECRET_CHARS} (e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return value


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(service: str, host: str, environ: Mapping[str, str] = os.environ) -> None:
    """In production a service listens beyond loopback only behind a TLS-terminating proxy the operator declared."""
    if is_production(environ) and not is_loopback(host) and not load(environ).carebot_tls_terminated:
        raise ModeError(
            f"{service} would listen on {host} without TLS: put a TLS-terminating proxy in front and set "
            f"{TLS_ENV}=1, or bind to 127.0.0.1"
        )


def secure_cookies(environ: Mapping[str, str] = os.environ) -> bool:
    """Cookies carry `Secure` in production always, in development when STAFF_COOKIE_SECURE says so."""
    return is_production(environ) or load(environ).staff_cookie_secure
