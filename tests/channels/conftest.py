"""Fixtures of the WhatsApp channel tests (the harness itself lives in whatsapp_harness.py)."""
from whatsapp_harness import contacts, harness, make_harness, sender_factory, twilio  # noqa: F401
