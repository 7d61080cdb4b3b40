"""Contract: every outbound request shape (text, chunked text, media, template, tap-to-answer content) is valid for
Twilio's own OpenAPI specs, checked by Prism mocks of `twilio_api_v2010.json` (messages) and `twilio_content_v1.json`
(the Content API templates behind quick replies and list pickers); Prism answers 422 to a request a spec rejects.

Prism quirk (stoplightio/prism#2473): it reads a form array only from `Name[]` keys, while Twilio (and
twilio-python) send a repeated plain `MediaUrl`. A loopback relay renames the spec's array fields to `Name[]` and
passes everything else through untouched, so the rest of each request is validated exactly as sent.

Prism comes from `scripts/install_prism.sh` (into .tools/), `$PRISM_BIN`, or `prism` on PATH."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import AsyncIterator, Iterator, List, Optional, Tuple
from urllib.parse import parse_qsl, urlencode

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from carebot.channels.buttons import LIST_PICKER, MAX_OPTIONS, Button, tap_offer
from carebot.channels.contacts import ContactStore
from carebot.channels.twilio_sender import WhatsAppSender
from tests.channels.whatsapp_harness import ACCOUNT_SID, PATIENT, make_settings
from tests.loopback import start

ROOT = Path(__file__).resolve().parents[2]
SPEC_DIR = Path(os.environ.get("TWILIO_SPEC_DIR", ROOT.parent / "shared" / "twilio"))
SPEC = SPEC_DIR / "twilio_api_v2010.json"
CONTENT_SPEC = SPEC_DIR / "twilio_content_v1.json"


def prism_binary() -> Optional[str]:
    local = ROOT / ".tools" / "node_modules" / ".bin" / "prism"
    candidates = [os.environ.get("PRISM_BIN"), str(local) if local.exists() else None, shutil.which("prism")]
    return next((c for c in candidates if c), None)


def run_prism(spec: Path) -> Iterator[str]:
    """A Prism mock of `spec` on a free loopback port, for the module's tests; skips when Prism or the spec is
    missing (only then: a Prism that fails to start fails the test)."""
    binary = prism_binary()
    if binary is None:
        pytest.skip(
            "Prism is not installed: run scripts/install_prism.sh (npm @stoplight/prism-cli@5 into .tools/)"
        )
    if not spec.exists():
        pytest.skip(f"Twilio OpenAPI spec not found at {spec}")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [binary, "mock", "-h", "127.0.0.1", "-p", str(port), str(spec)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"prism exited with {process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.25)
        else:
            pytest.fail("prism did not start listening within 60 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def prism_url() -> Iterator[str]:
    yield from run_prism(SPEC)


@pytest.fixture(scope="module")
def content_prism_url() -> Iterator[str]:
    yield from run_prism(CONTENT_SPEC)


ARRAY_FIELDS = {"MediaUrl", "PersistentAction"}  # the array-typed fields of the Messages.json request body


class PrismRelay:
    """Forwards Twilio requests to Prism with array fields renamed for Prism, recording (fields, status)."""

    def __init__(self, prism_url: str) -> None:
        self.prism_url = prism_url
        self.exchanges: List[Tuple[List[Tuple[str, str]], int]] = []

    async def forward(self, request: web.Request) -> web.Response:
        fields = parse_qsl((await request.read()).decode(), keep_blank_values=True)
        renamed = [(f"{k}[]" if k in ARRAY_FIELDS else k, v) for k, v in fields]
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in ("authorization", "content-type", "accept")
        }
        async with aiohttp.ClientSession() as session:
            async with session.post(
                self.prism_url + request.path, data=urlencode(renamed), headers=headers
            ) as answer:
                body, status = await answer.read(), answer.status
        self.exchanges.append((fields, status))
        return web.Response(body=body, status=status, content_type="application/json")


@pytest_asyncio.fixture
async def relay(prism_url: str) -> AsyncIterator[Tuple[PrismRelay, str]]:
    relay = PrismRelay(prism_url)
    app = web.Application()
    app.router.add_post("/{tail:.*}", relay.forward)
    runner, url = await start(app)
    yield relay, url
    await runner.cleanup()


async def test_every_outbound_shape_is_accepted_by_the_spec(
    relay: Tuple[PrismRelay, str], tmp_path: Path
) -> None:
    recorder, relay_url = relay
    contacts = ContactStore(f"sqlite:///{tmp_path / 'state.db'}")
    sender = WhatsAppSender(make_settings(relay_url), contacts)
    try:
        contacts.record_inbound(PATIENT)
        text = await sender.send(PATIENT, text="Your appointment is confirmed. " * 80)  # two chunks
        media = await sender.send(
            PATIENT, text="Our location", media_url="https://clinic.example.org/map.png"
        )
        image_only = await sender.send(PATIENT, media_url="https://clinic.example.org/map.png")
        contacts.close_window(PATIENT)
        template = await sender.send(
            PATIENT, template="medication_reminder", variables={"1": "Ramipril", "2": "08:00"}
        )
        reopen = await sender.send(PATIENT, text="free text outside the window becomes the re-open template")
    finally:
        await sender.close()
    for result in (text, media, image_only, template):
        assert result.status == "sent", result.error
        assert result.message_sids and all(sid.startswith("SM") for sid in result.message_sids)
    assert len(text.message_sids) == 2
    assert (
        reopen.status == "held"
    )  # the text waits for the patient's reply; the re-open template went (below)
    assert template.via_template and reopen.via_template
    sent = [dict(fields) for fields, status in recorder.exchanges]
    assert all(200 <= status < 300 for _, status in recorder.exchanges)
    assert [sorted(set(f) - {"To", "From", "StatusCallback"}) for f in sent] == [
        ["Body"],
        ["Body"],
        ["Body", "MediaUrl"],
        ["MediaUrl"],
        ["ContentSid", "ContentVariables"],
        ["ContentSid"],
    ]


async def test_prism_really_validates_requests(prism_url: str) -> None:
    """Guards the contract test itself: a request without `To` must be refused by the mock."""
    url = f"{prism_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    async with aiohttp.ClientSession(auth=aiohttp.BasicAuth(ACCOUNT_SID, "token")) as session:
        async with session.post(url, data={"From": "whatsapp:+14155238886", "Body": "hi"}) as response:
            assert response.status == 422


async def test_every_tap_to_answer_template_is_a_valid_content_create_request(
    content_prism_url: str, tmp_path: Path
) -> None:
    """Each shape the sender can make (1-3 quick replies, 1-10 list rows) is accepted by the Content API spec."""
    contacts = ContactStore(f"sqlite:///{tmp_path / 'state.db'}")
    sender = WhatsAppSender(make_settings("http://127.0.0.1:9", content_api_url=content_prism_url), contacts)
    offers = [
        tap_offer("Pick one", [Button(f"Option {n}", f"/o{n}") for n in range(count)])
        for count in range(1, MAX_OPTIONS[LIST_PICKER] + 1)
    ] + [
        tap_offer("Pick one", [Button(f"Option {n}, a longer row", f"/o{n}") for n in range(count)])
        for count in (1, 2, 3)
    ]
    try:
        kinds = {(offer.kind, len(offer.options)) for offer in offers if offer}
        assert len(kinds) == 13  # 3 quick-reply shapes and 10 list-picker shapes
        sids = [await sender.content.sid_for(offer) for offer in offers if offer]
    finally:
        await sender.close()
    assert all(sid and sid.startswith("HX") for sid in sids)


async def test_a_tap_to_answer_message_is_valid_for_the_messages_spec(
    relay: Tuple[PrismRelay, str], content_prism_url: str, tmp_path: Path
) -> None:
    recorder, relay_url = relay
    contacts = ContactStore(f"sqlite:///{tmp_path / 'state.db'}")
    sender = WhatsAppSender(make_settings(relay_url, content_api_url=content_prism_url), contacts)
    offer = tap_offer("Which time suits you?", [Button("Tuesday 10:00", "/t"), Button("Wednesday", "/w")])
    try:
        contacts.record_inbound(PATIENT)
        result = await sender.send(
            PATIENT, text="Which time suits you?\n\n1. Tuesday 10:00\n2. Wednesday", offer=offer
        )
    finally:
        await sender.close()
    assert result.status == "sent", result.error
    [(fields, status)] = recorder.exchanges
    sent = dict(fields)
    assert 200 <= status < 300 and sent["ContentSid"].startswith("HX") and "Body" not in sent
    assert json.loads(sent["ContentVariables"])["t2"] == "Wednesday"


async def test_prism_really_validates_content_definitions(content_prism_url: str) -> None:
    """Guards the Content API contract test: a quick-reply button with a field the spec does not know is refused."""
    wrong = {
        "language": "en",
        "types": {"twilio/quick-reply": {"body": "Hi", "actions": [{"title": "A", "payload": "x"}]}},
    }
    async with aiohttp.ClientSession(auth=aiohttp.BasicAuth(ACCOUNT_SID, "token")) as session:
        async with session.post(f"{content_prism_url}/v1/Content", json=wrong) as response:
            assert response.status == 422
