"""One channel worker for the crash tests: the WhatsApp channel mounted the way Rasa mounts it, in its own process so
a test can SIGKILL it mid-turn. Its bot takes a turn the way Rasa does: a first reply, a call to the action
server, a second reply with what the action answered.

    python -m tests.channels.inbound_worker CONFIG_JSON   → prints "ready <port>", serves until SIGTERM
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from typing import Any, Dict

import aiohttp
from rasa.core.channels.channel import UserMessage, register
from sanic import Sanic

from carebot.channels.whatsapp import WhatsAppInput
from tests.channels.whatsapp_harness import serve, stop


class ActingBot:
    """Stands in for Rasa's agent (`app.ctx.agent.handle_message`): reply, ask the action server, reply."""

    def __init__(self, action_url: str) -> None:
        self.action_url = action_url
        self.session: Any = None

    async def handle_message(self, message: UserMessage) -> None:
        if self.session is None:
            self.session = aiohttp.ClientSession()
        output = message.output_channel
        await output.send_response(message.sender_id, {"text": f"got {message.text}"})
        request = {"text": message.text, "pid": os.getpid()}
        async with self.session.post(self.action_url, json=request) as answer:
            action = await answer.json()
        await output.send_response(message.sender_id, {"text": action["text"]})


async def main(config: Dict[str, Any]) -> None:
    Sanic.test_mode = True
    app = Sanic(f"inbound_worker_{uuid.uuid4().hex}")
    app.ctx.agent = ActingBot(config.pop("action_url"))
    register([WhatsAppInput(config)], app, route="/webhooks/")
    server, base_url = await serve(app)
    stopped = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    print(f"ready {base_url.rsplit(':', 1)[1]}", flush=True)
    await stopped.wait()
    await stop(server)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
