"""`python -m carebot.privacy purge`: apply clinic.yml `privacy.retention_days` to every store now (the reminder
dispatcher also runs it daily). `python -m carebot.privacy verify-audit`: check the audit log's hash chain.
`python -m carebot.privacy export PHONE [--out FILE]`: everything held about a number as a FHIR R4 Bundle.
`python -m carebot.privacy erase PHONE`: erase that number from every store (clinic.yml
`privacy.kept_after_erasure` is kept). Both are written to the audit log.

Stores come from the same environment the services use: CAREBOT_DATABASE_URL, WHATSAPP_STATE_DATABASE_URL,
WHATSAPP_REDIS_URL and the tracker store of RASA_ENDPOINTS (else endpoints.yml).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional

from carebot import settings
from carebot.backend.audit import AuditLog
from carebot.clinic import load_clinic
from carebot.phones import normalize_phone
from carebot.privacy.erasure import erase_everywhere
from carebot.privacy.export import dumps, export_bundle
from carebot.privacy.purge import purge
from carebot.privacy.settings import PrivacyConfigError, load_kept_after_erasure, load_retention
from carebot.privacy.stores import PatientStores


def _run(args: argparse.Namespace, stores: PatientStores) -> int:
    audit = AuditLog(stores.backend)
    if args.command == "purge":
        print(f"purged: {purge(stores, load_retention()).describe()}")
        return 0
    if args.command == "verify-audit":
        broken = audit.verify()
        print("audit log intact" if broken is None else f"audit log altered at entry {broken}")
        return 0 if broken is None else 1
    phone = normalize_phone(args.phone)
    if args.command == "export":
        text = dumps(export_bundle(stores, load_clinic(), phone))
        audit.record("operator", "export", phone)
        if args.out:
            Path(args.out).write_text(
                text, encoding="utf-8"
            )  # umask 077: owner-only, like everything in var/
        else:
            print(text)
        return 0
    report = erase_everywhere(
        stores, load_clinic(), phone, load_kept_after_erasure(), settings.current().whatsapp_redis_url or None
    )
    audit.record("operator", "erase", phone, report.describe())
    print(f"erased: {report.describe()}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m carebot.privacy", description="Patient data protection")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("purge", help="delete what is older than clinic.yml privacy.retention_days")
    commands.add_parser("verify-audit", help="check that no audit entry was altered or removed")
    export = commands.add_parser("export", help="everything held about a phone number, as a FHIR R4 Bundle")
    export.add_argument("phone")
    export.add_argument("--out", help="write the Bundle to this file (owner-only) instead of printing it")
    commands.add_parser("erase", help="erase a phone number from every store").add_argument("phone")
    args = parser.parse_args(argv)
    settings.configure_logging(settings.at_start("privacy"), "%(levelname)s %(name)s: %(message)s")
    os.umask(0o077)
    stores = PatientStores()
    try:
        return _run(args, stores)
    except PrivacyConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        stores.close()


if __name__ == "__main__":
    sys.exit(main())
