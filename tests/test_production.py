"""`make run-production` (carebot/production.py) without PostgreSQL: what it refuses, the stack it builds, and an
nginx configuration that Debian's nginx accepts (`nginx -t`). The stack itself runs in
tests/e2e/test_production_stores.py when TEST_POSTGRES_URL and TEST_REDIS_URL are set."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from carebot import production, settings

PRODUCTION = {
    "CAREBOT_DATABASE_URL": "postgresql://carebot:pw@db.internal:6432/clinic",
    "WHATSAPP_REDIS_URL": "redis://cache.internal:6380/3",
    "CAREBOT_RASA_REPLICAS": "3",
    "RASA_PORT": "7005",
    "ACTION_SERVER_PORT": "7055",
    "CAREBOT_NGINX_PORT": "7000",
}


def config(tmp_path: Path, **overrides: str) -> settings.Settings:
    return settings.load({**PRODUCTION, "CAREBOT_VAR_DIR": str(tmp_path), **overrides})


@pytest.mark.parametrize(
    "overrides, named",
    [
        ({"CAREBOT_DATABASE_URL": "sqlite:///var/carebot.db"}, "CAREBOT_DATABASE_URL"),
        ({"WHATSAPP_REDIS_URL": ""}, "WHATSAPP_REDIS_URL"),
    ],
)
def test_it_refuses_to_start_without_the_production_stores(tmp_path: Path, overrides, named: str) -> None:
    with pytest.raises(production.ProductionConfigError, match=named):
        production.store_environment(config(tmp_path, **overrides))


def test_the_stores_reach_rasa_as_endpoints_production_reads_them(tmp_path: Path) -> None:
    env = production.store_environment(config(tmp_path))
    assert env["RASA_ENDPOINTS"] == "endpoints.production.yml"
    assert (env["TRACKER_DB_HOST"], env["TRACKER_DB_PORT"], env["TRACKER_DB_NAME"]) == (
        "db.internal",
        "6432",
        "clinic",
    )
    assert (env["TRACKER_DB_USER"], env["TRACKER_DB_PASSWORD"]) == ("carebot", "pw")
    assert (env["REDIS_HOST"], env["REDIS_PORT"], env["REDIS_DB"]) == ("cache.internal", "6380", "3")
    assert env["WHATSAPP_STATE_DATABASE_URL"] == PRODUCTION["CAREBOT_DATABASE_URL"]
    assert env["RASA_URL"] == "http://127.0.0.1:7000"  # the dispatcher and staff inbox go through nginx too


def test_the_replicas_reach_the_backend_on_its_port_unless_told_otherwise(tmp_path: Path) -> None:
    moved = config(tmp_path, BACKEND_PORT="7080")
    assert production.backend_environment(moved, {}) == {
        "BACKEND_URL": "http://127.0.0.1:7080",
        "SCHEDULING_URL": "http://127.0.0.1:7080/fhir",
    }
    told = production.backend_environment(moved, {"BACKEND_URL": "http://backend.internal:80"})
    assert told["BACKEND_URL"] == "http://backend.internal:80"


def test_each_replica_has_its_own_port_and_action_server(tmp_path: Path) -> None:
    services = production.stack("python", config(tmp_path))
    rasa = [s for s in services if s.name.startswith("rasa-")]
    actions = [s for s in services if s.name == "actions"]
    assert [s.argv[s.argv.index("--port") + 1] for s in rasa] == ["7005", "7006", "7007"]
    assert [dict(s.own)["ACTION_SERVER_PORT"] for s in actions] == ["7055", "7056", "7057"]
    assert [dict(s.own)["ACTION_ENDPOINT_URL"] for s in rasa] == [
        f"http://127.0.0.1:{port}/webhook" for port in (7055, 7056, 7057)
    ]
    [dispatcher] = [s for s in services if s.name == "reminders"]
    assert "RASA_API_TOKEN" not in dispatcher.environment({"RASA_API_TOKEN": "t" * 40})


@pytest.mark.skipif(not Path(production.NGINX).exists(), reason="nginx not installed: make tools")
def test_nginx_accepts_the_configuration_with_every_replica_upstream(tmp_path: Path) -> None:
    main = production.nginx_config(config(tmp_path), tmp_path / "nginx")
    site = (tmp_path / "nginx" / "carebot.conf").read_text()
    assert all(f"server 127.0.0.1:{port} max_fails=2" in site for port in (7005, 7006, 7007))
    assert "listen 127.0.0.1:7000;" in site and "${" not in site
    checked = subprocess.run(
        [production.NGINX, "-t", "-e", "stderr", "-c", str(main), "-p", str(main.parent)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr
