"""The reminder dispatcher process (`python -m carebot.dispatcher`): composes reminders, the WhatsApp outbox relay and
the daily retention purge. An entry point of its own, outside the feature packages, so no package imports in a loop."""
