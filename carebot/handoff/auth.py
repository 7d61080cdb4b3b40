"""Staff logins for the inbox: PBKDF2 password hashes, signed expiring session cookies and CSRF tokens.

Accounts come from `STAFF_ACCOUNTS` (`name:hash,name:hash`) or, if unset, from the file `var/staff_accounts`
(`name:hash` per line, written by `python -m carebot.handoff add-staff NAME`). Sessions are HMAC-signed
`name|expiry` values that open the inbox only while their server-side session lives (carebot.handoff.sessions:
logout and password changes end it). An empty secret is refused, a short one too in production mode.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, FrozenSet, Mapping, Optional

from carebot.settings import PROJECT_ROOT, SettingsError, load
from carebot.mode import check_secret
from carebot.tokens import stored_secret

ACCOUNTS_ENV = "STAFF_ACCOUNTS"
SECRET_ENV = "STAFF_SESSION_SECRET"
DEFAULT_ACCOUNTS_FILE = PROJECT_ROOT / "var" / "staff_accounts"
DEFAULT_SECRET_FILE = PROJECT_ROOT / "var" / "staff_session_secret"
DEFAULT_SESSION_MINUTES = 60
PBKDF2_ITERATIONS = 310_000
NAME_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class StaffConfigError(ValueError):
    """A malformed account list, phrased for the person setting the environment."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, iterations: int = PBKDF2_ITERATIONS, salt: Optional[bytes] = None) -> str:
    """`pbkdf2_sha256$<iterations>$<salt>$<hash>`: no ':' or ',' so it fits in STAFF_ACCOUNTS."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, iterations, salt, expected = encoded.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), _unb64(salt), int(iterations))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(_b64(digest), expected)


# Checked when the name is unknown, so a wrong name takes as long as a wrong password (no user enumeration).
_DUMMY_HASH = hash_password("not-a-staff-password", salt=b"carebot-dummy-salt")


def parse_accounts(text: str, source: str) -> Dict[str, str]:
    """`name:hash` entries separated by commas or newlines; '#' starts a comment line."""
    accounts: Dict[str, str] = {}
    for number, entry in enumerate(re.split(r"[,\n]", text), start=1):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        name, sep, encoded = entry.partition(":")
        if not sep or not NAME_PATTERN.match(name) or not encoded.startswith("pbkdf2_sha256$"):
            raise StaffConfigError(
                f"{source}: entry {number} is not 'name:pbkdf2_sha256$…' "
                "(create one with: python -m carebot.handoff add-staff NAME)"
            )
        accounts[name] = encoded
    return accounts


def load_accounts(environ: Mapping[str, str] = os.environ) -> Dict[str, str]:
    """Staff accounts from STAFF_ACCOUNTS, else from STAFF_ACCOUNTS_FILE / var/staff_accounts (may be empty)."""
    config = load(environ)
    if config.staff_accounts:
        return parse_accounts(config.staff_accounts, ACCOUNTS_ENV)
    path = config.staff_accounts_file
    return parse_accounts(path.read_text(encoding="utf-8"), str(path)) if path.exists() else {}


def add_account(name: str, password: str, path: Path = DEFAULT_ACCOUNTS_FILE) -> None:
    """Add or replace `name` in the accounts file, which only its owner may read."""
    if not NAME_PATTERN.match(name):
        raise StaffConfigError("a staff name uses letters, digits, '.', '_' or '-' (at most 64)")
    accounts = parse_accounts(path.read_text(encoding="utf-8"), str(path)) if path.exists() else {}
    accounts[name] = hash_password(password)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("".join(f"{user}:{encoded}\n" for user, encoded in sorted(accounts.items())))


def load_secret(environ: Mapping[str, str] = os.environ, path: Path = DEFAULT_SECRET_FILE) -> bytes:
    """STAFF_SESSION_SECRET, else a random secret kept in var/ (created on first use, owner-only)."""
    secret = load(environ).staff_session_secret
    if secret:
        return check_secret(SECRET_ENV, secret, environ).encode()
    return stored_secret(path).encode()


def session_minutes(environ: Mapping[str, str] = os.environ) -> int:
    try:
        return load(environ).staff_session_minutes
    except SettingsError as error:
        raise StaffConfigError(str(error)) from None


@dataclass(frozen=True)
class Session:
    staff: str
    expires_at: dt.datetime
    token: str


class StaffAuth:
    """Checks passwords and issues/validates session and CSRF tokens."""

    def __init__(self, accounts: Dict[str, str], secret: bytes, minutes: int = DEFAULT_SESSION_MINUTES,
                 admins: FrozenSet[str] = frozenset()) -> None:
        self.accounts, self.secret, self.minutes, self.admins = accounts, secret, minutes, admins

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "StaffAuth":
        admins = frozenset(name.strip() for name in load(environ).staff_admins.split(",") if name.strip())
        return cls(load_accounts(environ), load_secret(environ), session_minutes(environ), admins)

    def check_password(self, name: str, password: str) -> bool:
        encoded = self.accounts.get(name)
        matches = verify_password(password, encoded or _DUMMY_HASH)
        return encoded is not None and matches

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.secret, payload.encode(), hashlib.sha256).digest())

    def issue(self, name: str, now: dt.datetime) -> Session:
        expires = now + dt.timedelta(minutes=self.minutes)
        payload = f"{name}|{int(expires.timestamp())}"
        return Session(name, expires, f"{payload}|{self._sign(payload)}")

    def validate(self, token: Optional[str], now: dt.datetime) -> Optional[Session]:
        """The session a cookie holds, or None if it is missing, forged, expired or for a removed account."""
        if not token or token.count("|") != 2:
            return None
        name, expiry, signature = token.split("|")
        if not hmac.compare_digest(self._sign(f"{name}|{expiry}"), signature) or not expiry.isdigit():
            return None
        expires = dt.datetime.fromtimestamp(int(expiry), dt.timezone.utc)
        if expires <= now or name not in self.accounts:
            return None
        return Session(name, expires, token)

    def csrf_token(self, bound_to: str) -> str:
        """A form token tied to the session (or, on the login page, to a pre-login nonce)."""
        return self._sign(f"csrf|{bound_to}")

    def check_csrf(self, bound_to: str, given: Optional[str]) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf_token(bound_to), given)
