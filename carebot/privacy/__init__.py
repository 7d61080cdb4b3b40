"""Patient data protection: retention purge, hash-chained audit log (and the `python -m carebot.privacy` CLI)."""
