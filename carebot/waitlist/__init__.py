"""The waitlist: patients waiting for a service in a date range; freed slots are offered to them in order."""
