"""Staff logins for the inbox: PBKDF2 password hashes, an optional TOTP second factor, signed expiring session
cookies and CSRF tokens.

Accounts come from `STAFF_ACCOUNTS` (`name:hash,name:hash`) or, if unset, from the file `var/staff_accounts`
(`name:hash` per line, written by `python -m carebot.handoff add-staff NAME`). Sessions are HMAC-signed
`name|expiry` values that open the inbox only while their server-side session lives (carebot.handoff.sessions:
logout and password changes end it). An empty secret is refused, a short one too in production mode.
A second factor is optional per person: `STAFF_TOTP` (`name:BASE32,…`) or the file `var/staff_totp`, written by
`python -m carebot.handoff add-totp NAME`; a name listed there needs the 6-digit code of its authenticator app.
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
from typing import Callable, Dict, FrozenSet, Mapping, Optional

import pyotp

from carebot.mode import check_secret
from carebot.settings import PROJECT_ROOT, SettingsError, load
from carebot.tokens import stored_secret

ACCOUNTS_ENV = "STAFF_ACCOUNTS"
ACCOUNTS_FILE_ENV = "STAFF_ACCOUNTS_FILE"
SECRET_ENV = "STAFF_SESSION_SECRET"
MINUTES_ENV = "STAFF_SESSION_MINUTES"
ADMINS_ENV = (
    "STAFF_ADMINS"  # comma-separated staff names with the admin role (the audit log); others are staff
)
VAR_DIR = PROJECT_ROOT / "var"
DEFAULT_ACCOUNTS_FILE = VAR_DIR / "staff_accounts"
TOTP_ENV = "STAFF_TOTP"
TOTP_FILE_ENV = "STAFF_TOTP_FILE"
DEFAULT_TOTP_FILE = VAR_DIR / "staff_totp"
TOTP_ISSUER = "Carebot staff inbox"
DEFAULT_SECRET_FILE = VAR_DIR / "staff_session_secret"
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


def _parse_entries(text: str, source: str, is_value: Callable[[str], bool], expected: str) -> Dict[str, str]:
    """`name:value` entries separated by commas or newlines; '#' starts a comment line."""
    entries: Dict[str, str] = {}
    for number, entry in enumerate(re.split(r"[,\n]", text), start=1):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        name, sep, value = entry.partition(":")
        if not sep or not NAME_PATTERN.match(name) or not is_value(value):
            raise StaffConfigError(f"{source}: entry {number} is not {expected}")
        entries[name] = value
    return entries


def parse_accounts(text: str, source: str) -> Dict[str, str]:
    return _parse_entries(
        text,
        source,
        lambda value: value.startswith("pbkdf2_sha256$"),
        "'name:pbkdf2_sha256$…' (create one with: python -m carebot.handoff add-staff NAME)",
    )


def parse_totp(text: str, source: str) -> Dict[str, str]:
    return _parse_entries(
        text,
        source,
        lambda value: bool(re.fullmatch(r"[A-Z2-7]{16,}", value)),
        "'name:BASE32SECRET' (create one with: python -m carebot.handoff add-totp NAME)",
    )


def _from_env_or_file(
    environ: Mapping[str, str],
    env: str,
    file_env: str,
    default: Path,
    parse: Callable[[str, str], Dict[str, str]],
) -> Dict[str, str]:
    if environ.get(env):
        return parse(environ[env], env)
    path = Path(environ.get(file_env) or default)
    return parse(path.read_text(encoding="utf-8"), str(path)) if path.exists() else {}


def load_accounts(environ: Mapping[str, str] = os.environ) -> Dict[str, str]:
    """Staff accounts from STAFF_ACCOUNTS, else from STAFF_ACCOUNTS_FILE / var/staff_accounts (may be empty)."""
    return _from_env_or_file(environ, ACCOUNTS_ENV, ACCOUNTS_FILE_ENV, DEFAULT_ACCOUNTS_FILE, parse_accounts)


def load_totp(environ: Mapping[str, str] = os.environ) -> Dict[str, str]:
    """TOTP secrets of the staff who have a second factor: STAFF_TOTP, else STAFF_TOTP_FILE / var/staff_totp."""
    return _from_env_or_file(environ, TOTP_ENV, TOTP_FILE_ENV, DEFAULT_TOTP_FILE, parse_totp)


def _write_entries(path: Path, entries: Dict[str, str]) -> None:
    """The whole file, owner-only (it holds password hashes or TOTP secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("".join(f"{name}:{value}\n" for name, value in sorted(entries.items())))


def add_account(name: str, password: str, path: Path = DEFAULT_ACCOUNTS_FILE) -> None:
    """Add or replace `name` in the accounts file, which only its owner may read."""
    if not NAME_PATTERN.match(name):
        raise StaffConfigError("a staff name uses letters, digits, '.', '_' or '-' (at most 64)")
    accounts = parse_accounts(path.read_text(encoding="utf-8"), str(path)) if path.exists() else {}
    accounts[name] = hash_password(password)
    _write_entries(path, accounts)


def add_totp(name: str, path: Path = DEFAULT_TOTP_FILE) -> str:
    """Give `name` a new TOTP secret (replacing any old one); the otpauth:// URI for the authenticator app."""
    if not NAME_PATTERN.match(name):
        raise StaffConfigError("a staff name uses letters, digits, '.', '_' or '-' (at most 64)")
    secrets_by_name = parse_totp(path.read_text(encoding="utf-8"), str(path)) if path.exists() else {}
    secrets_by_name[name] = pyotp.random_base32()
    _write_entries(path, secrets_by_name)
    return pyotp.TOTP(secrets_by_name[name]).provisioning_uri(name=name, issuer_name=TOTP_ISSUER)


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

    def __init__(
        self,
        accounts: Dict[str, str],
        secret: bytes,
        minutes: int = DEFAULT_SESSION_MINUTES,
        admins: FrozenSet[str] = frozenset(),
        totp: Optional[Dict[str, str]] = None,
    ) -> None:
        self.accounts, self.secret, self.minutes, self.admins = accounts, secret, minutes, admins
        self.totp = totp or {}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "StaffAuth":
        admins = frozenset(name.strip() for name in environ.get(ADMINS_ENV, "").split(",") if name.strip())
        return cls(
            load_accounts(environ), load_secret(environ), session_minutes(environ), admins, load_totp(environ)
        )

    def needs_code(self, name: str) -> bool:
        return name in self.totp

    def code_step(self, name: str, code: str, now: dt.datetime) -> Optional[int]:
        """The 30-second time step whose code `code` is (now, or one step either side for clock drift), or None.
        The caller accepts a step only once per person (StaffSessions.accept_code_step): a code seen over a
        shoulder or in a proxy log cannot be typed again within its window."""
        secret = self.totp.get(name)
        if secret is None:
            return None
        totp, given = pyotp.TOTP(secret), code.strip()
        step = totp.timecode(now)
        for candidate in (step - 1, step, step + 1):
            if hmac.compare_digest(totp.generate_otp(candidate), given):
                return candidate
        return None

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
