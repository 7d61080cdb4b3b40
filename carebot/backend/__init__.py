"""The backend process: one aiohttp application that owns the clinic's data (scheduling, reminders, handoff)."""
