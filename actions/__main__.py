"""`python -m actions`: the action server on loopback, refusing calls without the shared token.

rasa-sdk's own `rasa run actions` binds 0.0.0.0 and accepts anyone; the Rasa server sends the token as the
`token` query parameter (endpoints.yml `action_endpoint.token`), so only it can run actions.
"""

from __future__ import annotations

import hmac
import logging

from rasa_sdk.endpoint import create_app
from sanic import response
from sanic.request import Request

from carebot import settings, tokens

logger = logging.getLogger("carebot.actions")


def main() -> None:
    config = settings.at_start("action server")
    settings.configure_logging(config, "%(levelname)s %(name)s: %(message)s")
    expected = tokens.token(*tokens.ACTION_SERVER)
    app = create_app("actions", cors_origins=None)

    @app.middleware("request")
    async def require_token(request: Request):  # noqa: ANN202 - Sanic middleware signature
        if request.path == "/health":
            return None
        if not hmac.compare_digest(request.args.get("token", ""), expected):
            return response.json({"error": "missing or wrong token"}, status=401)
        return None

    host, port = config.action_server_host, config.action_server_port
    logger.info("action server on http://%s:%s", host, port)
    app.run(host, port, workers=1, access_log=False, motd=False)


if __name__ == "__main__":
    main()
