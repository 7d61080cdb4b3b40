"""`make run-production`: the production topology on one machine, as one process group (carebot/launcher.py).

PostgreSQL (`CAREBOT_DATABASE_URL`) holds the clinic data, the conversations (Rasa's tracker store, through
endpoints.production.yml) and the WhatsApp channel state; Redis (`WHATSAPP_REDIS_URL`) holds Rasa's locks and the
channel's button memory. `CAREBOT_RASA_REPLICAS` Rasa replicas, each with its own action server, and the backend sit
behind nginx on 127.0.0.1:`CAREBOT_NGINX_PORT`, which routes the webhooks and Rasa's API round-robin over the
replicas and the staff inbox and `/health` to the backend (deploy/nginx/carebot.conf.template); the dispatcher and
the staff inbox reach Rasa through nginx too. It prints "ready" once every replica and the backend answer their
health checks. A replica stopped or killed is passed over by nginx and its WhatsApp messages are taken over by
the others (carebot/channels/inbound.py); conversations live in PostgreSQL, so none is dropped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import string
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from carebot import healthcheck, launcher, settings, tokens
from carebot.clinic import ClinicConfigError, load_clinic

NGINX = "/usr/sbin/nginx"  # Debian's package: scripts/install_nginx.sh (make tools)
TEMPLATE = settings.PROJECT_ROOT / "deploy" / "nginx" / "carebot.conf.template"
UPSTREAM = "server 127.0.0.1:{port} max_fails=2 fail_timeout=5s;"  # passive health checks
READY_POLL_SECONDS = 0.5


class ProductionConfigError(ValueError):
    """A setting `make run-production` needs is missing or unusable; the message says which and why."""


def store_environment(config: settings.Settings) -> Dict[str, str]:
    """The PostgreSQL and Redis of the environment as the variables endpoints.production.yml reads."""
    database, redis = config.carebot_database_url, config.whatsapp_redis_url
    if not database.startswith("postgresql"):
        raise ProductionConfigError("CAREBOT_DATABASE_URL must name the PostgreSQL database (postgresql://…)")
    if not redis.startswith("redis"):
        raise ProductionConfigError("WHATSAPP_REDIS_URL must name the Redis server (redis://…)")
    pg, rd = urlsplit(database), urlsplit(redis)
    return {
        "WHATSAPP_STATE_DATABASE_URL": config.whatsapp_state_database_url or database,
        "TRACKER_DB_HOST": pg.hostname or "127.0.0.1",
        "TRACKER_DB_PORT": str(pg.port or 5432),
        "TRACKER_DB_NAME": pg.path.lstrip("/"),
        "TRACKER_DB_USER": pg.username or "",
        "TRACKER_DB_PASSWORD": pg.password or "",
        "REDIS_HOST": rd.hostname or "127.0.0.1",
        "REDIS_PORT": str(rd.port or 6379),
        "REDIS_DB": rd.path.strip("/") or "0",
        "RASA_ENDPOINTS": "endpoints.production.yml",
        "RASA_URL": f"http://127.0.0.1:{config.carebot_nginx_port}",
    }


def backend_environment(config: settings.Settings, env: Dict[str, str]) -> Dict[str, str]:
    """Where the channel and the actions reach the backend, unless the environment says: its BACKEND_PORT."""
    base = f"http://127.0.0.1:{config.backend_port}"
    wanted = {"BACKEND_URL": base, "SCHEDULING_URL": f"{base}/fhir"}  # REMINDERS_URL follows SCHEDULING_URL
    return {name: env.get(name) or value for name, value in wanted.items()}


def replica_ports(config: settings.Settings) -> List[Tuple[int, int]]:
    """(Rasa port, action server port) of each replica: RASA_PORT, ACTION_SERVER_PORT and the ports after them."""
    return [
        (config.rasa_port + index, config.action_server_port + index)
        for index in range(config.carebot_rasa_replicas)
    ]


def nginx_config(config: settings.Settings, directory: Path) -> Path:
    """nginx.conf for a foreground nginx run by the user, its files under `directory`; the site is the template."""
    site = string.Template(TEMPLATE.read_text()).safe_substitute(
        CAREBOT_RASA_UPSTREAMS="\n    ".join(UPSTREAM.format(port=rasa) for rasa, _ in replica_ports(config)),
        CAREBOT_BACKEND_UPSTREAMS=UPSTREAM.format(port=config.backend_port),
        CAREBOT_NGINX_LISTEN=f"127.0.0.1:{config.carebot_nginx_port}",
    )
    tokens.secure_dir(directory)
    (directory / "carebot.conf").write_text(site)
    temp = "\n".join(
        f"    {kind}_temp_path {directory / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = directory / "nginx.conf"
    main.write_text(
        f"daemon off;\nworker_processes 1;\npid {directory / 'nginx.pid'};\nerror_log stderr warn;\n"
        f"events {{ worker_connections 1024; }}\n"
        # Bodies and answers stay in memory (64 KB bodies at most): nginx's workers never write a temp file.
        f"http {{\n    access_log off;\n    client_body_buffer_size 64k;\n    proxy_max_temp_file_size 0;\n"
        f"{temp}\n    include {directory / 'carebot.conf'};\n}}\n"
    )
    return main


def stack(python: str, config: settings.Settings) -> List[launcher.Service]:
    """The backend, the replicas (Rasa and its action server), the dispatcher and nginx."""
    services = [launcher.Service("backend", [python, "-m", "carebot.server"])]
    for index, (rasa_port, action_port) in enumerate(replica_ports(config), start=1):
        own = (("ACTION_SERVER_PORT", str(action_port)),)
        services.append(launcher.Service("actions", [python, "-m", "actions"], own=own, restart=True))
        endpoint = (("ACTION_ENDPOINT_URL", f"http://127.0.0.1:{action_port}/webhook"),)
        rasa = launcher.rasa_service(f"rasa-{index}", python, config, rasa_port, own=endpoint)
        services.append(dataclasses.replace(rasa, restart=True))
    services.append(
        launcher.Service("reminders", [python, "-m", "carebot.dispatcher"], withheld=launcher.API_TOKENS)
    )
    nginx = nginx_config(config, config.carebot_var_dir / "nginx")
    services.append(
        launcher.Service("nginx", [NGINX, "-e", "stderr", "-c", str(nginx), "-p", str(nginx.parent)])
    )
    return services


def health_urls(config: settings.Settings, rasa_token: str) -> List[List[str]]:
    """What must answer before the stack is ready, in two rounds: every replica's Rasa and action server and the
    backend, then nginx in front of them (asked once they answer, so its log holds no refused upstreams)."""
    direct = [f"http://127.0.0.1:{config.backend_port}/health"]
    for rasa_port, action_port in replica_ports(config):
        direct += [
            f"http://127.0.0.1:{rasa_port}/status?token={rasa_token}",
            f"http://127.0.0.1:{action_port}/health",
        ]
    return [direct, [f"http://127.0.0.1:{config.carebot_nginx_port}/health"]]


async def announce_ready(rounds: Sequence[Sequence[str]], started: float) -> None:
    for urls in rounds:
        pending = list(urls)
        while pending:
            answers = await asyncio.gather(*(asyncio.to_thread(healthcheck.healthy, url) for url in pending))
            pending = [url for url, ok in zip(pending, answers) if not ok]
            if pending:
                await asyncio.sleep(READY_POLL_SECONDS)
    print(f"carebot: ready in {time.monotonic() - started:.1f} s", flush=True)


async def run(services: List[launcher.Service], env: Dict[str, str], rounds: Sequence[Sequence[str]]) -> int:
    announcer = asyncio.ensure_future(announce_ready(rounds, time.monotonic()))
    try:
        return await launcher.run_all(services, env)
    finally:
        announcer.cancel()


def main(argv: Optional[List[str]] = None) -> int:
    try:
        load_clinic()
        env = launcher.prepare_environment()
        env.update(store_environment(settings.load(env)))
        env.update(backend_environment(settings.load(env), env))
        config = settings.load(env)
    except (ClinicConfigError, ProductionConfigError, settings.SettingsError) as error:
        print(f"carebot: cannot start the production stack: {error}", file=sys.stderr)
        return 2
    if not Path(NGINX).exists():
        print(f"carebot: {NGINX} is missing: run `make tools` (scripts/install_nginx.sh)", file=sys.stderr)
        return 2
    print(
        f"carebot: {config.carebot_rasa_replicas} Rasa replicas behind nginx on "
        f"http://127.0.0.1:{config.carebot_nginx_port} (PostgreSQL tracker store, Redis lock store)",
        flush=True,
    )
    rounds = health_urls(config, env["RASA_API_TOKEN"])
    return asyncio.run(run(stack(sys.executable, config), env, rounds))


if __name__ == "__main__":
    sys.exit(main())
