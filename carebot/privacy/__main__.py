"""`python -m carebot.privacy purge`: apply clinic.yml `privacy.retention_days` to every store now (the reminder
dispatcher also runs it daily). `python -m carebot.privacy verify-audit`: check the audit log's hash chain.

Stores come from the same environment the services use: CAREBOT_DATABASE_URL, WHATSAPP_STATE_DATABASE_URL and
the tracker store of RASA_ENDPOINTS (else endpoints.yml).
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from carebot import settings
from carebot.backend.audit import AuditLog
from carebot.privacy.purge import purge
from carebot.privacy.settings import PrivacyConfigError, load_retention
from carebot.privacy.stores import PatientStores


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m carebot.privacy", description="Patient data protection")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("purge", help="delete what is older than clinic.yml privacy.retention_days")
    commands.add_parser("verify-audit", help="check that no audit entry was altered or removed")
    args = parser.parse_args(argv)
    settings.configure_logging(settings.at_start("privacy"), "%(levelname)s %(name)s: %(message)s")
    os.umask(0o077)
    try:
        retention = load_retention()
    except PrivacyConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    stores = PatientStores()
    try:
        if args.command == "purge":
            print(f"purged: {purge(stores, retention).describe()}")
            return 0
        broken = AuditLog(stores.backend).verify()
        print("audit log intact" if broken is None else f"audit log altered at entry {broken}")
        return 0 if broken is None else 1
    finally:
        stores.close()


if __name__ == "__main__":
    sys.exit(main())
