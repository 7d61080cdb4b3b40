"""Tests of the WhatsApp channel (carebot/channels)."""
