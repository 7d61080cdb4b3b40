"""`python -m carebot.flows [--render] [--check]`: write docs/flows/<name>.dot for every protocol, rules file and the
forms, and with --render draw each as SVG with Graphviz's `dot` (Debian package `graphviz`, installed by
`make tools`). --check writes nothing and exits 1 when a committed diagram is out of date with the YAML."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import yaml

from carebot.flows.diagrams import Diagram, all_diagrams, index_markdown
from carebot.settings import PROJECT_ROOT
from carebot.triage.engine import default_protocols

FLOWS_DIR = PROJECT_ROOT / "docs" / "flows"
RULES_DIR = PROJECT_ROOT / "data" / "rules"
DOMAIN = PROJECT_ROOT / "domain.yml"


def project_diagrams(rules_dir: Path = RULES_DIR, domain: Path = DOMAIN) -> List[Diagram]:
    """The diagrams of the YAML as it is now."""
    rule_files: Dict[str, Any] = {
        path.stem: (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("rules") or []
        for path in sorted(rules_dir.glob("*.yml"))
    }
    forms = (yaml.safe_load(domain.read_text(encoding="utf-8")) or {}).get("forms") or {}
    return all_diagrams(default_protocols(), rule_files, forms)


def stale(diagrams: Sequence[Diagram], folder: Path) -> List[str]:
    """Names of the diagrams whose committed DOT differs from the YAML's (missing ones included), and of
    committed diagrams the YAML no longer has."""
    wanted = {d.name: d.dot for d in diagrams}
    differ = [
        n
        for n, dot in wanted.items()
        if not (folder / f"{n}.dot").is_file() or (folder / f"{n}.dot").read_text(encoding="utf-8") != dot
    ]
    gone = [p.stem for p in folder.glob("*.dot") if p.stem not in wanted]
    return sorted(differ + gone)


def write(diagrams: Sequence[Diagram], folder: Path, render: bool) -> None:
    """DOT files (and SVGs), an index, and nothing left of diagrams the YAML no longer has."""
    folder.mkdir(parents=True, exist_ok=True)
    names = {d.name for d in diagrams}
    for old in [*folder.glob("*.dot"), *folder.glob("*.svg")]:
        if old.stem not in names:
            old.unlink()
    for diagram in diagrams:
        source = folder / f"{diagram.name}.dot"
        source.write_text(diagram.dot, encoding="utf-8")
        if render:
            subprocess.run(
                ["dot", "-Tsvg", str(source), "-o", str(folder / f"{diagram.name}.svg")], check=True
            )
    (folder / "README.md").write_text(index_markdown(diagrams, render), encoding="utf-8")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m carebot.flows", description=__doc__.splitlines()[0])
    parser.add_argument("--render", action="store_true", help="draw SVGs with Graphviz's dot")
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/flows is out of date")
    parser.add_argument("--out", type=Path, default=FLOWS_DIR)
    args = parser.parse_args(argv)
    diagrams = project_diagrams()
    if args.check:
        out_of_date = stale(diagrams, args.out)
        if out_of_date:
            print(
                f"flows: out of date with the YAML: {', '.join(out_of_date)} (run `make flows`)",
                file=sys.stderr,
            )
            return 1
        print(f"flows: {len(diagrams)} diagrams up to date")
        return 0
    if args.render and shutil.which("dot") is None:
        print("flows: Graphviz's `dot` is not installed (`make tools` installs it)", file=sys.stderr)
        return 2
    write(diagrams, args.out, args.render)
    print(f"flows: {len(diagrams)} diagrams in {args.out}" + (" (SVG)" if args.render else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
