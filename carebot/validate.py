"""`python -m carebot.validate`: check every file a conversation designer edits, before Rasa or a patient sees it.

Each problem is printed as `file:line: message` and the command exits 1, so `make test` stops with a pointer to
the line to fix rather than a traceback at start-up.
"""

from __future__ import annotations

import sys
from typing import Callable, List, Tuple

from carebot.clinic import load_clinic
from carebot.forms import load_questions
from carebot.household import RELATIONS_FILE, load_people
from carebot.lexicon.patterns import load_patterns
from carebot.messages import load_catalogue
from carebot.nlu.findings import build_findings_pipeline
from carebot.privacy.settings import load_kept_after_erasure, load_retention
from carebot.settings import PROJECT_ROOT
from carebot.triage.loader import load_protocols

ROOT = PROJECT_ROOT

CHECKS: List[Tuple[str, Callable[[], object]]] = [
    ("clinic file", load_clinic),
    ("privacy settings of the clinic file", lambda: (load_retention(), load_kept_after_erasure())),
    ("entity patterns", lambda: load_patterns(ROOT / "data" / "patterns")),
    (
        "entity patterns as the text is read (typos, lemmas)",
        lambda: build_findings_pipeline(ROOT / "data" / "patterns"),
    ),
    ("action messages", lambda: load_catalogue(ROOT / "data" / "messages")),
    ("free-text questions of the forms", load_questions),
    ("who an appointment is for (relations)", lambda: load_people(RELATIONS_FILE)),
    ("triage protocols", lambda: load_protocols(ROOT / "data" / "triage", ROOT / "data" / "patterns")),
]


def main() -> int:
    failures = 0
    for label, check in CHECKS:
        try:
            check()
        except (ValueError, OSError) as error:
            failures += 1
            print(f"{label}: {error}", file=sys.stderr)
        else:
            print(f"{label}: ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
