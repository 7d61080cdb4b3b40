"""Records and constants of erasure and export, shared by the backend API, its client, the CLI and the inbox.

No database and no HTTP here: the action server imports this through `carebot.privacy.client` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Tuple

# What a clinic may be legally bound to keep after a patient asks for erasure (clinic.yml
# `privacy.kept_after_erasure`). Everything else that names the patient is deleted.
PAST_APPOINTMENTS = (
    "past_appointments"  # attended/missed appointments, with the name, birth date and number on them
)
HANDOFF_CASES = (
    "handoff_cases"  # conversations with staff, when the clinic files them as clinical correspondence
)
KEEPABLE: Tuple[str, ...] = (PAST_APPOINTMENTS, HANDOFF_CASES)
ERASURE_REASON = "patient asked for their data to be erased"


def conversation_ids(phone: str) -> Tuple[str, ...]:
    """The ids a patient's conversations may have: the WhatsApp channel's, and the bare number (REST, tests)."""
    return (f"whatsapp:{phone}", phone)


@dataclass
class ErasureReport:
    """What an erasure removed, per kind, what it cancelled and what it kept (and why: clinic.yml)."""

    deleted: Dict[str, int] = field(default_factory=dict)
    cancelled: List[str] = field(default_factory=list)  # "GP appointment with Dr Patel, Tue 12 Jan 10:30"
    kept: Dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, count: int) -> None:
        if count > 0:
            self.deleted[kind] = self.deleted.get(kind, 0) + count

    def keep(self, kind: str, count: int) -> None:
        if count > 0:
            self.kept[kind] = self.kept.get(kind, 0) + count

    def describe(self) -> str:
        """One line for the audit log and the CLI: counts only, no names."""
        deleted = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.deleted.items())) or "nothing"
        kept = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.kept.items()))
        return f"deleted {deleted}; cancelled {len(self.cancelled)}" + (f"; kept {kept}" if kept else "")

    def to_json(self) -> Dict[str, Any]:
        return {"deleted": self.deleted, "cancelled": self.cancelled, "kept": self.kept}

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> "ErasureReport":
        return cls(
            dict(body.get("deleted") or {}), list(body.get("cancelled") or []), dict(body.get("kept") or {})
        )


@dataclass(frozen=True)
class DataSummary:
    """What the clinic's systems hold about one number right now (answer to "what do you keep about me")."""

    patient_records: int
    upcoming_appointments: int
    past_appointments: int
    reminders: int
    staff_cases: int

    def to_json(self) -> Dict[str, int]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> "DataSummary":
        return cls(**{name: int(body.get(name) or 0) for name in cls.__dataclass_fields__})
