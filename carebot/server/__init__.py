"""The backend process: the composition root that mounts every feature's API on one aiohttp app (`python -m carebot.server`).

Nothing imports this package: it imports the features, which import only `carebot.backend` (db, errors, audit, HTTP base).
"""
