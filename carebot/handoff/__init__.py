"""Handoff to staff: cases (store), their operations (service), the JSON API and the staff inbox (api.setup).

No Rasa import: the action server and the WhatsApp channel talk to this over the backend's HTTP API.
"""
