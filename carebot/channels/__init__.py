"""Messaging channels. Only `whatsapp.py` imports Rasa; the helper modules here are pure so that the
reminder dispatcher and the staff inbox can send WhatsApp messages and check opt-outs without Rasa."""
