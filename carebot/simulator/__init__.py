"""The designers' simulator (`make simulate`, docs/simulator.md): a phone-shaped web chat over the real WhatsApp
channel path, with each turn's intent, entities, slots, actions and triage findings read from Rasa's tracker.
Development mode only."""
