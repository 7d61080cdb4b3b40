"""Fixtures of the security tests: the WhatsApp channel harness and the handoff backend harness, as used elsewhere."""

from tests.channels.whatsapp_harness import clock, contacts, harness, make_harness, sender_factory, twilio  # noqa: F401
from tests.handoff.handoff_harness import backend  # noqa: F401
