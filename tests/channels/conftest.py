"""Fixtures of the WhatsApp channel tests (the harness itself lives in whatsapp_harness.py)."""

from tests.channels.whatsapp_harness import clock, contacts, harness, make_harness, sender_factory, twilio  # noqa: F401
