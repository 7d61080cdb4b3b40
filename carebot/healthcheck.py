"""`python -m carebot.healthcheck rasa|backend|actions`: exit 0 when the process on this host answers its health
route, 1 otherwise. The container probes (deploy/compose.yaml, deploy/kubernetes/) and `make run-production` call it,
because Rasa's `/status` (ready only once the model is loaded) wants the API token, which a probe URL must not carry
in a manifest; here it comes from the process's own environment.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Callable, Dict, List, Optional

from carebot import settings, tokens

TIMEOUT_SECONDS = 3.0


def _rasa(config: settings.Settings) -> str:
    token = urllib.parse.quote(tokens.token(*tokens.RASA_API))
    return f"http://127.0.0.1:{config.rasa_port}/status?token={token}"


def _backend(config: settings.Settings) -> str:
    return f"http://127.0.0.1:{config.backend_port}/health"


def _actions(config: settings.Settings) -> str:
    return f"http://127.0.0.1:{config.action_server_port}/health"


URLS: Dict[str, Callable[[settings.Settings], str]] = {
    "rasa": _rasa,
    "backend": _backend,
    "actions": _actions,
}


def healthy(url: str, timeout: float = TIMEOUT_SECONDS) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - a loopback http URL we built
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in URLS:
        print(f"usage: python -m carebot.healthcheck {'|'.join(URLS)}", file=sys.stderr)
        return 2
    return 0 if healthy(URLS[args[0]](settings.current())) else 1


if __name__ == "__main__":
    sys.exit(main())
