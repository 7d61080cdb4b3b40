"""A patient's request (export, erasure) handled by an admin in the staff inbox. The backend's composition root
(carebot/server/app.py) hands this to the inbox, which knows it only as `handoff.inbox.PatientRequests`: the handoff
package never imports privacy (no package loop)."""

from __future__ import annotations

from typing import Optional

from sqlalchemy.engine import Engine

from carebot.backend.audit import AuditLog
from carebot.clinic import Clinic
from carebot.privacy.erasure import erase_everywhere
from carebot.privacy.export import dumps, export_bundle
from carebot.privacy.settings import load_kept_after_erasure
from carebot.privacy.stores import PatientStores
from carebot.settings import current


class PatientRequests:
    """Blocking calls (run them off the event loop); each act is recorded in the audit log as the admin's."""

    def __init__(self, engine: Engine, clinic: Clinic, redis_url: Optional[str] = None) -> None:
        self.engine, self.clinic, self.audit = engine, clinic, AuditLog(engine)
        self.redis_url = redis_url if redis_url is not None else (current().whatsapp_redis_url or None)

    def export(self, staff: str, phone: str) -> str:
        """Everything held about the number, as FHIR R4 Bundle JSON."""
        stores = PatientStores(self.engine)
        try:
            self.audit.record(f"staff:{staff}", "export", phone)
            return dumps(export_bundle(stores, self.clinic, phone))
        finally:
            stores.close()

    def erase(self, staff: str, phone: str) -> str:
        """Erase the number from every store; the report says what went and what the clinic keeps."""
        stores = PatientStores(self.engine)
        try:
            report = erase_everywhere(stores, self.clinic, phone, load_kept_after_erasure(), self.redis_url)
            self.audit.record(f"staff:{staff}", "erase", phone, report.describe())
            return report.describe()
        finally:
            stores.close()
