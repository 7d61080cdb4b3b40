"""`privacy:` in clinic.yml: how many days each kind of patient data is kept (docs/security.md "Retention").

    privacy:
      retention_days:
        conversations: 30     # the tracker store: what the patient and the bot said
        triage_records: 30    # triage answers and outcomes (slots in the tracker store)
        handoff_cases: 90     # staff inbox cases and their messages (the bot chat copied into a case: conversations)
        channel_state: 30     # WhatsApp 24-hour window, held messages, seen MessageSids (opt-outs are kept)
        media_links: 7        # links to photos/files patients sent, held for delivery
        audit: 365            # the audit log itself
      kept_after_erasure: [past_appointments]   # what the law makes the clinic keep when a patient asks for erasure

Every kind is required to be a whole number ≥ 0 when given; a missing kind takes the default above.
`kept_after_erasure` names kinds from carebot.privacy.model.KEEPABLE (default: none, everything is erased).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping, Optional, Tuple

import yaml

from carebot.privacy.model import KEEPABLE
from carebot.settings import current


class PrivacyConfigError(ValueError):
    """A wrong `privacy:` section, phrased for the person editing clinic.yml."""


@dataclass(frozen=True)
class Retention:
    conversations: int = 30
    triage_records: int = 30
    handoff_cases: int = 90
    channel_state: int = 30
    media_links: int = 7
    audit: int = 365

    @property
    def tracker_days(self) -> int:
        """Triage records live in the tracker store too: it keeps events for the shorter of the two."""
        return min(self.conversations, self.triage_records)


def retention_from(section: Mapping[str, Any], source: str = "clinic.yml") -> Retention:
    days = section.get("retention_days") or {}
    if not isinstance(days, dict):
        raise PrivacyConfigError(f"{source}: privacy.retention_days must be a mapping of kind: days")
    known = {f.name for f in fields(Retention)}
    unknown = sorted(set(days) - known)
    if unknown:
        raise PrivacyConfigError(
            f"{source}: privacy.retention_days has an unknown kind '{unknown[0]}' "
            f"(known: {', '.join(sorted(known))})"
        )
    for kind, value in days.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PrivacyConfigError(
                f"{source}: privacy.retention_days.{kind} must be a whole number of days ≥ 0"
            )
    return Retention(**days)


def kept_from(section: Mapping[str, Any], source: str = "clinic.yml") -> Tuple[str, ...]:
    kept = section.get("kept_after_erasure") or []
    if not isinstance(kept, list) or any(kind not in KEEPABLE for kind in kept):
        raise PrivacyConfigError(
            f"{source}: privacy.kept_after_erasure must be a list of: {', '.join(KEEPABLE)}"
        )
    return tuple(kept)


def _privacy_section(path: Optional[os.PathLike]) -> Tuple[Mapping[str, Any], str]:
    file = Path(path or current().clinic_file)
    data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    section = data.get("privacy") or {}
    if not isinstance(section, dict):
        raise PrivacyConfigError(f"{file}: privacy must be a mapping")
    return section, str(file)


def load_retention(path: Optional[os.PathLike] = None) -> Retention:
    """The retention of the clinic file (`CLINIC_FILE`, else ./clinic.yml); defaults when it has no `privacy:`."""
    return retention_from(*_privacy_section(path))


def load_kept_after_erasure(path: Optional[os.PathLike] = None) -> Tuple[str, ...]:
    """What the clinic keeps when a patient asks for erasure (clinic.yml `privacy.kept_after_erasure`)."""
    return kept_from(*_privacy_section(path))
