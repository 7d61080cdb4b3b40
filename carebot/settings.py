"""Every environment variable Carebot reads, in one typed table: read once per environment, validated, documented.

    from carebot import settings
    port = settings.current().backend_port

`Settings` lists each variable as a field (its name is the variable's, lower case) with its default and meaning;
`docs/operations.md` shows the same table. Values are checked when read, so a typo such as `BACKEND_PORT=80880` stops
a process at start with the variable's name and what it expects, not later with a stack trace. Renamed variables are
still read under their old names, with a deprecation warning naming the new one. Functions that take an
`environ` mapping (tests, subprocess environments) pass it to `load`; the rest call `current()`.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(ValueError):
    """An environment variable holds a value Carebot cannot use; the message names it and what it expects."""


class DeprecatedSetting(FutureWarning):
    """A variable was read under its old name."""


def _var(default: Any, meaning: str, *old_names: str, shown: str = "") -> Any:
    """A variable: its default, what it means, its old names, and how docs show an empty default."""
    return field(default=default, metadata={"meaning": meaning, "old_names": old_names, "shown": shown})


@dataclass(frozen=True)
class Settings:
    # Whole installation
    carebot_mode: str = _var(
        "",
        '`production` turns on the checks of "Production mode" (long secrets, loopback '
        "binds, secure cookies, a closed REST channel)",
        shown="development",
    )
    carebot_tls_terminated: bool = _var(
        False, "`1`: a TLS proxy fronts the services, so production may bind beyond 127.0.0.1"
    )
    carebot_var_dir: Path = _var(
        PROJECT_ROOT / "var", "local state: SQLite files, generated tokens", shown="`var/`"
    )
    clinic_file: Path = _var(PROJECT_ROOT / "clinic.yml", "the clinic file", shown="`clinic.yml`")
    review_stories_dir: Path = _var(
        PROJECT_ROOT / "tests" / "stories",
        "where conversation review's 'save as test story' writes (a designer reads and commits them)",
        shown="`tests/stories`",
    )
    log_level: str = _var(
        "INFO",
        "log level of Carebot's own processes; message bodies and full phone numbers are "
        "never logged at INFO",
    )
    # Backend (python -m carebot.server)
    backend_host: str = _var("127.0.0.1", "the backend's bind address")
    backend_port: int = _var(8080, "the backend's port")
    carebot_database_url: str = _var(
        "",
        "the backend's database (SQLAlchemy URL)",
        "SCHEDULING_DATABASE_URL",
        shown="`sqlite:///var/carebot.db`",
    )
    carebot_backend_token: str = _var(
        "",
        "bearer token of the backend's `/fhir` and `/api` (the action server's, full access)",
        "SCHEDULING_TOKEN",
        shown="generated into `var/scheduling_token`",
    )
    handoff_channel_token: str = _var(
        "",
        "the WhatsApp channel's backend token: may only append to a handoff case, ask whether one is open, and "
        "hand a privacy request made during a case back to the bot",
        shown="generated into `var/channel_token`",
    )
    reminder_key_secret: str = _var(
        "", "signs reminder occurrence keys", shown="generated into `var/reminder_key_secret`"
    )
    audit_key: str = _var(
        "", "keys the patient hashes of the audit log", shown="generated into `var/audit_key`"
    )
    staff_accounts: str = _var(
        "",
        "staff inbox accounts `name:hash,…` (docs/staff-inbox.md)",
        shown="read from `STAFF_ACCOUNTS_FILE`",
    )
    staff_accounts_file: Path = _var(
        PROJECT_ROOT / "var" / "staff_accounts",
        "the staff accounts file `python -m carebot.handoff add-staff` writes",
        shown="`var/staff_accounts`",
    )
    staff_session_secret: str = _var(
        "", "signs staff inbox sessions", shown="generated into `var/staff_session_secret`"
    )
    staff_session_minutes: int = _var(60, "staff inbox session lifetime in minutes")
    staff_admins: str = _var(
        "", "comma-separated staff names with the admin role (every staff case, the audit log)", shown="none"
    )
    staff_totp: str = _var(
        "",
        "staff TOTP secrets `name:secret,…` (optional second factor, docs/staff-inbox.md)",
        shown="read from `STAFF_TOTP_FILE`",
    )
    staff_totp_file: Path = _var(
        PROJECT_ROOT / "var" / "staff_totp",
        "the TOTP secrets file `python -m carebot.handoff add-totp` writes",
        shown="`var/staff_totp`",
    )
    tracker_encryption_key: str = _var(
        "",
        "Fernet key of the tracker store's event encryption; losing it makes stored conversations unreadable",
        shown="generated into `var/tracker_key`",
    )
    staff_cookie_secure: bool = _var(False, "`1`: staff cookies only over HTTPS (always in production)")
    staff_inbox_url: str = _var("http://127.0.0.1:8080", "the inbox address in staff alerts")
    # Clients of the backend (action server, channel, dispatcher)
    backend_url: str = _var(
        "http://127.0.0.1:8080", "where the channel and the actions reach the handoff API"
    )
    scheduling_url: str = _var(
        "http://127.0.0.1:8080/fhir", "where the actions reach the FHIR scheduling API"
    )
    reminders_url: str = _var(
        "",
        "where the actions reach the reminders API",
        shown="`SCHEDULING_URL` with `/fhir` → `/api/reminders`",
    )
    # Rasa and the action server
    rasa_url: str = _var("http://127.0.0.1:5005", "where the dispatcher and the staff inbox reach Rasa")
    rasa_api_token: str = _var(
        "", "token of Rasa's HTTP API (`?token=`)", shown="generated into `var/rasa_token`"
    )
    reminder_dispatch_token: str = _var(
        "",
        "the reminder dispatcher's Rasa token: accepted only by `POST /conversations/{id}/trigger_intent`",
        shown="generated into `var/dispatch_token`",
    )
    rasa_host: str = _var("127.0.0.1", "Rasa's bind address (`make run`)")
    rasa_port: int = _var(5005, "Rasa's port (`make run`)")
    rasa_model: str = _var("models/carebot.tar.gz", "the trained model Rasa serves (`make run`)")
    rasa_credentials: str = _var("credentials.yml", "Rasa's channel credentials (`make run`)")
    rasa_endpoints: Path = _var(
        Path("endpoints.yml"),
        "Rasa's endpoints file (`make run`; the tracker store `python -m carebot.privacy` purges)",
    )
    action_server_token: str = _var(
        "", "token the Rasa server sends to the action server", shown="generated into `var/action_token`"
    )
    action_server_host: str = _var("127.0.0.1", "the action server's bind address")
    action_server_port: int = _var(5055, "the action server's port")
    rest_channel_token: str = _var(
        "",
        "`Authorization: Bearer` of the REST channel; in production the channel is off without it",
        shown="none",
    )
    # WhatsApp channel: a key left empty in credentials.yml is read from these
    twilio_account_sid: str = _var("", "Twilio account (`AC…`)", shown="empty → sandbox mode")
    twilio_auth_token: str = _var(
        "",
        "Twilio auth token; also checks every webhook's `X-Twilio-Signature`",
        shown="empty → every webhook is refused (403)",
    )
    twilio_whatsapp_number: str = _var(
        "", "the clinic's WhatsApp sender, E.164 (`+14155238886`)", shown="empty → sandbox mode"
    )
    twilio_api_base_url: str = _var("", "Twilio's REST API base", shown="`https://api.twilio.com`")
    whatsapp_webhook_url: str = _var(
        "",
        "the public base URL Twilio calls (`https://bot.clinic.example`); needed "
        "behind a proxy, because Twilio signs the URL it called",
        shown="the URL of the request",
    )
    whatsapp_redis_url: str = _var(
        "",
        "Redis for the numbered-button memory, the re-open guard and the pacing slot; "
        "**required with several Rasa replicas**",
        shown="in-process memory",
    )
    whatsapp_state_database_url: str = _var(
        "",
        "SQLAlchemy URL of the channel state (the inbox, the outbox, opt-outs, last inbound "
        "time); point every host at the same PostgreSQL",
        shown="`sqlite:///var/whatsapp.db`",
    )
    whatsapp_rate_per_second: float = _var(
        80.0,
        "messages per second the clinic's WhatsApp sender may send, shared by every process "
        '(Twilio\'s default; see "Pacing" below)',
    )
    # make run-production (python -m carebot.production)
    carebot_rasa_replicas: int = _var(
        2, "Rasa replicas of `make run-production`, each with its own action server, behind nginx"
    )
    carebot_nginx_port: int = _var(
        8000,
        "where nginx listens (127.0.0.1) in `make run-production`: the webhooks, Rasa's API, the staff inbox",
    )
    # The designers' simulator (make simulate; development mode only)
    simulator_port: int = _var(8090, "the simulator's port (`make simulate`; always bound to 127.0.0.1)")
    simulator_token: str = _var(
        "", "the simulator page's token (in the link it prints)", shown="generated into `var/simulator_token`"
    )
    # Reminder dispatcher (python -m carebot.dispatcher)
    reminder_poll_seconds: float = _var(5.0, "how often the dispatcher looks for due reminders (seconds)")
    reminder_worker_id: str = _var(
        "", "the dispatcher's name in its leases", shown="host name and process id"
    )

    def value_of(self, variable: str) -> Any:
        """The value of a variable by its environment name (`SCHEDULING_TOKEN` finds its new name's value)."""
        return getattr(self, _FIELD_BY_NAME[variable])


def markdown_table() -> str:
    """The table of docs/operations.md: every variable, its default and meaning (`python -m carebot.settings`)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for f in dataclasses.fields(Settings):
        shown = f.metadata["shown"] or f"`{_relative(f.default)}`"
        old = f.metadata["old_names"]
        meaning = f.metadata["meaning"] + (f" (formerly `{'`, `'.join(old)}`, still read)" if old else "")
        rows.append(f"| `{f.name.upper()}` | {shown} | {meaning} |")
    return "\n".join(rows) + "\n"


def _relative(default: Any) -> Any:
    if isinstance(default, Path) and default.is_absolute():
        return default.relative_to(PROJECT_ROOT)
    return {True: "1", False: "0"}.get(default, default) if isinstance(default, bool) else default


_FIELD_BY_NAME: Dict[str, str] = {}
for _f in dataclasses.fields(Settings):
    for _name in (_f.name.upper(), *_f.metadata["old_names"]):
        _FIELD_BY_NAME[_name] = _f.name
NAMES = tuple(_FIELD_BY_NAME)


def load(environ: Mapping[str, str]) -> Settings:
    """The settings in `environ`, checked; the same environment is read (and warned about) once."""
    return _load(tuple((name, environ[name]) for name in NAMES if name in environ))


def current() -> Settings:
    """The settings of this process's environment."""
    return load(os.environ)


@functools.lru_cache(maxsize=16)
def _load(present: Tuple[Tuple[str, str], ...]) -> Settings:
    raw = dict(present)
    values: Dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        name = f.name.upper()
        text = raw.get(name, "").strip()
        if not text:
            text = _from_old_name(name, f.metadata["old_names"], raw)
        if text:
            values[f.name] = _convert(name, text, str(f.type))
    settings = Settings(**values)
    if settings.log_level.upper() not in LOG_LEVELS:
        raise SettingsError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {settings.log_level!r}")
    return settings


def _from_old_name(name: str, old_names: Tuple[str, ...], raw: Mapping[str, str]) -> str:
    for old in old_names:
        text = raw.get(old, "").strip()
        if text:
            message = f"{old} is deprecated: set {name} instead (the value of {old} is used for now)"
            warnings.warn(message, DeprecatedSetting, stacklevel=4)
            log.warning("%s", message)
            return text
    return ""


def _convert(name: str, text: str, kind: str) -> Any:
    if kind == "int":
        is_port = name.endswith("_PORT")
        if not text.isdigit() or int(text) < 1 or (is_port and int(text) > 65535):
            expected = "a whole number from 1 to 65535" if is_port else "a whole number (at least 1)"
            raise SettingsError(f"{name} must be {expected}, not {text!r}")
        return int(text)
    if kind == "float":
        try:
            number = float(text)
        except ValueError:
            number = 0.0
        if not number > 0:
            raise SettingsError(f"{name} must be a positive number of seconds, not {text!r}")
        return number
    if kind == "bool":
        return text.lower() in ("1", "true", "yes")
    if kind == "Path":
        return Path(text)
    return text


def database_url(settings: Optional[Settings] = None) -> str:
    """The backend's database URL (CAREBOT_DATABASE_URL, else SQLite in the var folder)."""
    chosen = settings or current()
    return chosen.carebot_database_url or f"sqlite:///{PROJECT_ROOT / 'var' / 'carebot.db'}"


def at_start(process: str) -> Settings:
    """The settings a process starts with; a bad value stops it with the variable's name, not a stack trace."""
    try:
        return current()
    except SettingsError as error:
        raise SystemExit(f"{process}: cannot start: {error}") from None


def configure_logging(
    settings: Settings, fmt: str = "%(asctime)s %(levelname)s %(name)s: %(message)s"
) -> None:
    logging.basicConfig(level=settings.log_level.upper(), format=fmt)


if __name__ == "__main__":
    print(markdown_table(), end="")
