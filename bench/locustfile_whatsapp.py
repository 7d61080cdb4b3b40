"""Locust users for `bench/whatsapp_replicas.py`: each user is one patient writing to the clinic on WhatsApp.

A patient posts Twilio-signed webhooks to the WhatsApp channel (through nginx), one message after another: the next
leaves `CAREBOT_LOAD_PACING` seconds after the last one left (Locust's constant pacing: the time the webhook took
is part of it), `CAREBOT_LOAD_MESSAGES` messages in all, then the user stops; the last one to stop ends the run.
Every message sent is written to `CAREBOT_LOAD_SENT` (MessageSid, patient, wall-clock time, HTTP status) so the
bench can find its replies at the Twilio stand-in and check order and exactly-once afterwards.

Run by the bench (`locust -f bench/locustfile_whatsapp.py --headless …`); Locust patches the process with gevent,
so nothing else imports this module.
"""

from __future__ import annotations

import csv
import itertools
import os
import time
from typing import IO, Any

from locust import FastHttpUser, constant_pacing, events, task
from locust.exception import StopUser

from bench.whatsapp_load import WEBHOOK_PATH, inbound, patient_phone, signed_headers

AUTH_TOKEN = os.environ.get("CAREBOT_LOAD_AUTH_TOKEN", "")
PUBLIC_URL = os.environ.get("CAREBOT_LOAD_PUBLIC_URL", "")
MESSAGES = int(os.environ.get("CAREBOT_LOAD_MESSAGES", "40"))
PACING = float(os.environ.get("CAREBOT_LOAD_PACING", "1.0"))
FIRST_PHONE = int(os.environ.get("CAREBOT_LOAD_FIRST_PHONE", "0"))
# Questions a clinic's patients ask on WhatsApp that finish in one turn, so that every message is a whole turn.
SAYINGS = (
    "hi",
    "what are your opening hours",
    "where is the clinic",
    "is there parking",
    "thanks",
    "how do i register",
    "ok",
)

_numbers = itertools.count(FIRST_PHONE)
_sent_file: IO[str] = open(os.environ["CAREBOT_LOAD_SENT"], "w", newline="")  # noqa: SIM115 - closed on quit
_sent = csv.writer(_sent_file)
_running = 0


@events.quitting.add_listener
def _close(**_: Any) -> None:
    _sent_file.close()


class Patient(FastHttpUser):
    wait_time = constant_pacing(PACING)

    def on_start(self) -> None:
        global _running
        _running += 1
        self.number = next(_numbers)
        self.phone = patient_phone(self.number)
        self.written = 0

    @task
    def write(self) -> None:
        if self.written == MESSAGES:
            raise StopUser()
        form = inbound(self.phone, SAYINGS[(self.number + self.written) % len(SAYINGS)])
        headers = signed_headers(AUTH_TOKEN, PUBLIC_URL, form)
        sent_at = time.time()
        with self.client.post(
            WEBHOOK_PATH, data=form, headers=headers, name="webhook", catch_response=True
        ) as answer:
            if answer.status_code != 204:
                answer.failure(f"HTTP {answer.status_code}")
        _sent.writerow([form["MessageSid"], self.phone, f"{sent_at:.6f}", answer.status_code])
        self.written += 1

    def on_stop(self) -> None:
        global _running
        _running -= 1
        if _running == 0:
            _sent_file.flush()
            self.environment.runner.quit()
