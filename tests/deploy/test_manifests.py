"""The deployment files validate offline against vendored schemas (deploy/schemas/README.md) and keep the rules a
schema cannot see: probes on Rasa's /status and the backend's /health, Services and autoscalers that find their
Deployment, secrets referenced and never written, and a Dockerfile built from requirements/lock.txt."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SECRET_NAMES = re.compile(r"TOKEN|SECRET|PASSWORD|_KEY$|ACCOUNTS|DATABASE_URL|ACCOUNT_SID")


def kubernetes_documents() -> Iterator[Dict[str, Any]]:
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                yield {**document, "_file": path.name}


DOCUMENTS = list(kubernetes_documents())


def named(kind: str) -> Dict[str, Dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in DOCUMENTS if d["kind"] == kind}


def containers(deployment: Dict[str, Any]) -> List[Dict[str, Any]]:
    return deployment["spec"]["template"]["spec"]["containers"]


@pytest.mark.parametrize(
    "document", DOCUMENTS, ids=lambda d: f"{d['_file']}:{d['kind']}/{d['metadata']['name']}"
)
def test_every_kubernetes_manifest_matches_the_kubernetes_schema(document: Dict[str, Any]) -> None:
    bundle = json.loads((DEPLOY / "schemas" / "kubernetes-1.33-strict.json").read_text())
    kind = f"{document['apiVersion']}/{document['kind']}"
    assert kind in bundle["kinds"], f"{document['_file']}: {kind} has no vendored schema"
    schema = {**bundle["kinds"][kind], "$defs": bundle["$defs"]}
    manifest = {key: value for key, value in document.items() if key != "_file"}
    jsonschema.Draft202012Validator(schema).validate(manifest)


def test_a_broken_manifest_is_refused() -> None:
    bundle = json.loads((DEPLOY / "schemas" / "kubernetes-1.33-strict.json").read_text())
    schema = {**bundle["kinds"]["apps/v1/Deployment"], "$defs": bundle["$defs"]}
    deployment = {key: value for key, value in named("Deployment")["carebot-rasa"].items() if key != "_file"}
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["periodSecond"] = 5  # a typo
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(broken)


def probe_target(probe: Dict[str, Any]) -> str:
    if "exec" in probe:
        return " ".join(probe["exec"]["command"])
    return f"GET {probe['httpGet']['path']}"


def test_serving_deployments_have_readiness_and_liveness_probes_on_their_health_routes() -> None:
    expected = {
        "carebot-rasa": "python -m carebot.healthcheck rasa",  # Rasa's /status with the process's own token
        "carebot-backend": "GET /health",
        "carebot-actions": "GET /health",
    }
    deployments = named("Deployment")
    for name, target in expected.items():
        [container] = containers(deployments[name])
        for probe in ("readinessProbe", "livenessProbe"):
            assert probe_target(container[probe]) == target, f"{name} {probe}"


def test_services_autoscalers_and_disruption_budgets_find_their_deployments() -> None:
    deployments = named("Deployment")
    labels = {name: d["spec"]["template"]["metadata"]["labels"] for name, d in deployments.items()}
    for service in named("Service").values():
        selector = service["spec"]["selector"].items()
        [owner] = [name for name, pod in labels.items() if selector <= pod.items()]
        [port] = service["spec"]["ports"]
        assert port["targetPort"] in {p["name"] for p in containers(deployments[owner])[0]["ports"]}
    for autoscaler in named("HorizontalPodAutoscaler").values():
        target = autoscaler["spec"]["scaleTargetRef"]["name"]
        assert target in deployments and autoscaler["spec"]["minReplicas"] >= 2
    budgets = [b["spec"]["selector"]["matchLabels"] for b in named("PodDisruptionBudget").values()]
    for name in ("carebot-rasa", "carebot-backend", "carebot-actions"):
        assert any(budget.items() <= labels[name].items() for budget in budgets), (
            f"{name} has no disruption budget"
        )


def test_kubernetes_secrets_are_referenced_never_written() -> None:
    assert not [d for d in DOCUMENTS if d["kind"] == "Secret"]
    config = named("ConfigMap")["carebot-config"]["data"]
    assert not [key for key in config if SECRET_NAMES.search(key)]
    for deployment in named("Deployment").values():
        for container in containers(deployment):
            for variable in container.get("env", []):
                if SECRET_NAMES.search(variable["name"]):
                    assert "value" not in variable, (
                        f"{variable['name']} written in {deployment['metadata']['name']}"
                    )
                    assert variable["valueFrom"]["secretKeyRef"]["name"] == "carebot-secrets"


def test_the_dispatcher_holds_no_api_token_but_its_own() -> None:
    [container] = containers(named("Deployment")["carebot-dispatcher"])
    tokens = {v["name"] for v in container["env"] if v["name"].endswith("_TOKEN")}
    assert tokens <= {"REMINDER_DISPATCH_TOKEN", "TWILIO_AUTH_TOKEN"}


def interpolated(text: str) -> str:
    """Compose's interpolation as `docker compose config` does it: `${NAME:-default}` → the default, and a stand-in
    value for `${NAME:?}` (a secret the operator must set)."""

    def value(match: re.Match) -> str:
        return match.group("default") if match.group("default") is not None else "x" * 32

    return re.sub(r"\$\{[A-Z_]+(?::-(?P<default>[^}]*)|:\?[^}]*)?\}", value, text)


def compose() -> Dict[str, Any]:
    return yaml.safe_load(interpolated((DEPLOY / "compose.yaml").read_text()))


def test_the_compose_file_matches_the_compose_specification() -> None:
    schema = json.loads((DEPLOY / "schemas" / "compose-spec.json").read_text())
    document = compose()
    for service in document["services"].values():  # replicas are numbers once interpolated
        if "deploy" in service:
            service["deploy"]["replicas"] = int(service["deploy"]["replicas"])
    jsonschema.Draft201909Validator(schema).validate(document)
    assert document["services"]["rasa"]["deploy"]["replicas"] == 2  # CAREBOT_RASA_REPLICAS' default


def test_compose_secrets_come_from_the_environment_and_only_nginx_publishes_a_port() -> None:
    raw = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for name, service in raw["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            if SECRET_NAMES.search(variable):
                assert "${" in str(value), f"{name}: {variable} is written in compose.yaml"
        if name != "nginx":
            assert "ports" not in service, f"{name} publishes a port"
        if name in ("rasa", "backend", "actions"):
            assert service["healthcheck"]["test"][-2:] == ["carebot.healthcheck", name]
    assert all(port.startswith("127.0.0.1:") for port in raw["services"]["nginx"]["ports"])


def test_the_image_is_built_from_the_lock_and_runs_as_no_root() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY requirements/lock.txt requirements/lock.txt" in dockerfile
    assert re.search(r"pip install --no-deps --ignore-requires-python -r requirements/lock\.txt", dockerfile)
    lock_python = re.search(r"--python-version (\d+\.\d+)", (ROOT / "requirements" / "lock.sh").read_text())
    assert lock_python and f"FROM python:{lock_python.group(1)}." in dockerfile
    assert re.search(r"^USER 10001$", dockerfile, re.M)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "var", ".git"} <= set(ignored)  # no local state or secrets in the build context
