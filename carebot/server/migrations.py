"""`python -m carebot.server.migrations revision backend|channel "what changed"`: write the next migration by
comparing a database at the newest revision with the tables the code defines; `upgrade` migrates by hand.

Here, not in carebot.migrations, because writing a revision needs every feature's tables and only the
composition root may import them all. Read and adjust what Alembic writes before committing it.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import List, Optional

from alembic import command
from sqlalchemy import MetaData

import carebot.backend.audit  # noqa: F401 - each import registers its tables on the shared metadata
import carebot.channels.inbound  # noqa: F401
import carebot.handoff.sessions  # noqa: F401
import carebot.handoff.store  # noqa: F401
import carebot.identity.store  # noqa: F401
import carebot.reminders.store  # noqa: F401
import carebot.review.store  # noqa: F401
import carebot.scheduling.tables  # noqa: F401
import carebot.waitlist.tables  # noqa: F401
from carebot import migrations
from carebot.backend.db import make_engine, metadata
from carebot.channels.contacts import _metadata as channel_metadata
from carebot.channels.contacts import state_database_url

TABLES = {migrations.BACKEND: metadata, migrations.CHANNEL: channel_metadata}


def revision(schema: str, message: str) -> None:
    """Autogenerate the next revision of `schema` against a scratch SQLite database at the newest revision."""
    wanted: MetaData = TABLES[schema]
    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'scratch.db'}")
        migrations.upgrade(engine, schema)
        with engine.begin() as connection:
            command.revision(
                migrations.config(schema, connection, wanted),
                message,
                autogenerate=True,
                head=f"{schema}@head",
                version_path=str(migrations.HERE / schema),
            )
        engine.dispose()


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m carebot.server.migrations")
    commands = parser.add_subparsers(dest="command", required=True)
    write = commands.add_parser("revision", help="write the next migration of a schema")
    write.add_argument("schema", choices=sorted(TABLES))
    write.add_argument("message")
    commands.add_parser("upgrade", help="migrate the configured databases now (the backend does it at start)")
    args = parser.parse_args(argv)
    if args.command == "revision":
        revision(args.schema, args.message)
    else:
        migrations.upgrade(make_engine(), migrations.BACKEND)
        migrations.upgrade(make_engine(state_database_url()), migrations.CHANNEL)


if __name__ == "__main__":
    main()
