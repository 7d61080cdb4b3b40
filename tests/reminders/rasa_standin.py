"""A local HTTP stand-in for Rasa's trigger_intent endpoint that records every call (tests and the benchmark)."""

from __future__ import annotations

from collections import Counter
from typing import Any, Dict, List

from aiohttp import web


class RasaStandIn:
    """Answers POST /conversations/{id}/trigger_intent like Rasa (200 + tracker), counting triggers per key."""

    def __init__(self, token: str = "rasa-secret") -> None:
        self.token = token
        self.calls: List[Dict[str, Any]] = []
        self.per_key: Counter = Counter()
        self.fail_next = 0  # answer 500 to this many calls (Rasa briefly down)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/conversations/{conversation_id}/trigger_intent", self.trigger)
        return app

    async def trigger(self, request: web.Request) -> web.Response:
        if request.query.get("token") != self.token:
            return web.json_response({"status": "failure", "reason": "NotAuthenticated"}, status=401)
        if self.fail_next:
            self.fail_next -= 1
            return web.json_response({"status": "failure", "reason": "ConversationError"}, status=500)
        body = await request.json()
        self.calls.append(
            {
                "conversation_id": request.match_info["conversation_id"],
                "output_channel": request.query.get("output_channel"),
                **body,
            }
        )
        self.per_key[body["entities"]["reminder_key"]] += 1
        return web.json_response({"tracker": {"sender_id": request.match_info["conversation_id"]}})
