"""Manage staff accounts: `python -m carebot.handoff add-staff NAME` asks for a password and stores its hash;
`python -m carebot.handoff add-totp NAME` gives NAME a second factor and prints the otpauth:// link (show it as a QR
code to the person's authenticator app; var/staff_totp, or STAFF_TOTP_FILE; restart the backend to load it).

The file is var/staff_accounts (or STAFF_ACCOUNTS_FILE); STAFF_ACCOUNTS, when set, takes precedence over it.
`--print` writes the `name:hash` entry to stdout instead, for pasting into STAFF_ACCOUNTS.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import List, Optional

from carebot.backend.db import make_engine
from carebot.handoff.auth import (
    NAME_PATTERN,
    StaffConfigError,
    add_account,
    add_totp,
    hash_password,
)
from carebot.handoff.sessions import StaffSessions, staff_sessions
from carebot.settings import current

MIN_PASSWORD_LENGTH = 10


def end_sessions(name: str) -> int:
    """A new password logs the old one's sessions out everywhere (they live in the backend database)."""
    engine = make_engine()
    staff_sessions.create(engine, checkfirst=True)
    return StaffSessions(engine).end_all(name)


def _read_password() -> str:
    if not sys.stdin.isatty():  # scripted use: the password is the first line of stdin
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise StaffConfigError("the two passwords differ")
    return first


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m carebot.handoff", description="Staff inbox accounts")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add-staff", help="add or replace a staff login")
    add.add_argument("name")
    add.add_argument(
        "--print", action="store_true", help="print name:hash for STAFF_ACCOUNTS instead of writing"
    )
    commands.add_parser("add-totp", help="give a staff login a TOTP second factor").add_argument("name")
    args = parser.parse_args(argv)
    path = current().staff_accounts_file
    try:
        if args.command == "add-totp":
            totp_file = current().staff_totp_file
            print(
                f"add this to {args.name}'s authenticator app (as a QR code or by hand):\n"
                f"{add_totp(args.name, totp_file)}"
            )
            return 0
        if not NAME_PATTERN.match(args.name):
            raise StaffConfigError("a staff name uses letters, digits, '.', '_' or '-' (at most 64)")
        password = _read_password()
        if len(password) < MIN_PASSWORD_LENGTH:
            raise StaffConfigError(f"use a password of at least {MIN_PASSWORD_LENGTH} characters")
        if args.print:
            print(f"{args.name}:{hash_password(password)}")
        else:
            add_account(args.name, password, path)
            ended = end_sessions(args.name)
            print(f"staff account '{args.name}' saved in {path}; {ended} open session(s) of it ended")
    except StaffConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
