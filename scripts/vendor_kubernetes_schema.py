"""Cut kubernetes-validate's strict Kubernetes schemas to the kinds deploy/kubernetes/ uses (deploy/schemas/README.md).

    python scripts/vendor_kubernetes_schema.py DIR > deploy/schemas/kubernetes-1.33-strict.json

DIR is a `kubernetes-json-schema/v1.33.0-local-strict` folder: one file per kind plus `_definitions.json`. The output
keeps each kind's schema under `kinds` ("apps/v1/Deployment") and only the definitions they reach under `$defs`,
with descriptions dropped, so the repository carries 65 KB instead of 110 MB.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, Set

KINDS = {
    "apps/v1/Deployment": "deployment-apps-v1.json",
    "v1/Service": "service-v1.json",
    "v1/ConfigMap": "configmap-v1.json",
    "autoscaling/v2/HorizontalPodAutoscaler": "horizontalpodautoscaler-autoscaling-v2.json",
    "policy/v1/PodDisruptionBudget": "poddisruptionbudget-policy-v1.json",
}
REF_PREFIXES = ("/api/_definitions.json#/$defs/", "#/$defs/")


def definition_name(ref: str) -> str:
    for prefix in REF_PREFIXES:
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    raise ValueError(f"unexpected $ref {ref}")


def references(node: Any, found: Set[str]) -> Set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                found.add(definition_name(value))
            else:
                references(value, found)
    elif isinstance(node, list):
        for value in node:
            references(value, found)
    return found


def local(node: Any) -> Any:
    """The node with every $ref pointing into this file's `$defs`, and no descriptions or ids."""
    if isinstance(node, dict):
        return {
            key: "#/$defs/" + definition_name(value) if key == "$ref" else local(value)
            for key, value in node.items()
            if key not in ("$schema", "$id", "description")
        }
    if isinstance(node, list):
        return [local(value) for value in node]
    return node


def cut(folder: Path) -> Dict[str, Any]:
    definitions = json.loads((folder / "_definitions.json").read_text())["$defs"]
    kinds = {kind: json.loads((folder / name).read_text()) for kind, name in KINDS.items()}
    needed: Set[str] = set()
    for schema in kinds.values():
        references(schema, needed)
    todo = list(needed)
    while todo:
        for name in references(definitions[todo.pop()], set()) - needed:
            needed.add(name)
            todo.append(name)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": "Kubernetes v1.33 strict schemas from kubernetes-validate 1.37.0 (v1.33.0-local-strict, "
        "Apache-2.0), cut to the kinds deploy/kubernetes/ uses: scripts/vendor_kubernetes_schema.py",
        "kinds": {kind: local(schema) for kind, schema in kinds.items()},
        "$defs": {name: local(definitions[name]) for name in sorted(needed)},
    }


if __name__ == "__main__":
    print(json.dumps(cut(Path(sys.argv[1])), sort_keys=True, separators=(",", ":")))
