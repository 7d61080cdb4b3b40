"""`python -m carebot.rasa_server run …`: Rasa's own CLI, with three measured fixes to Rasa 3.6's hot paths.

Profiled on this project (docs/benchmarks.md):
- Rasa validates every action-server answer with `jsonschema.validate`, which re-checks the schema itself on each
  call: ~20 ms of CPU per action. A validator built once per schema does the same check in ~1 ms.
- `Event.resolve_by_type` walks every Event subclass for every event of a tracker it rebuilds; in a long
  conversation that was a sixth of the server's CPU. The subclasses do not change once Rasa is imported.
- Loading the intent classifier imports skops, which scans every loaded module; importing it before Rasa loads its
  components makes start-up seconds faster.
Behaviour is unchanged: the same schema, the same classes, the same CLI.

Three safety additions: `--auth-token` is taken from RASA_API_TOKEN inside the process (argv is visible to every
user in `ps`); files Rasa creates (the SQLite tracker store) are owner-only; and the reminder dispatcher's own token
(REMINDER_DISPATCH_TOKEN) is accepted by `POST /conversations/{id}/trigger_intent` and nothing else, so the
dispatcher cannot read a tracker, append events or replace the model with it (least privilege).
"""

from __future__ import annotations

import functools
import hmac
import json
import os
import sys
from inspect import isawaitable
from typing import Any, Dict, List, Optional, Type

from carebot import settings, tokens

# Rasa's route handlers (by function name) the dispatcher's token may call: delivering a reminder, nothing more.
DISPATCH_ROUTES = frozenset({"trigger_intent"})


def _cache_action_result_validation() -> None:
    import jsonschema
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    @functools.lru_cache(maxsize=8)
    def validator_for(schema_json: str) -> Any:
        schema = json.loads(schema_json)
        cls = validators.validator_for(schema)
        cls.check_schema(schema)
        return cls(schema)

    original = RemoteAction._validate_action_result

    def validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
        schema_json = json.dumps(self.action_response_format_spec(), sort_keys=True)
        error = jsonschema.exceptions.best_match(validator_for(schema_json).iter_errors(result))
        if error is None:
            return True
        return original(self, result)  # invalid: let Rasa's own check raise its own, explained error

    RemoteAction._validate_action_result = validate_action_result


def _memoise_event_types() -> None:
    from rasa.shared.core import events

    original = events.Event.resolve_by_type  # a staticmethod
    cache: Dict[str, Type[events.Event]] = {}

    def resolve_by_type(type_name: str, default: Optional[Type[events.Event]] = None) -> Any:
        if type_name in cache:
            return cache[type_name]
        found = original(type_name, default)
        if found is not None and found is not default:
            cache[type_name] = found
        return found

    events.Event.resolve_by_type = staticmethod(resolve_by_type)


def allow_dispatch_token(dispatch_token: str) -> None:
    """Let `dispatch_token` through Rasa's token check on DISPATCH_ROUTES only. Rasa has one API token for every
    route; this wraps its `requires_auth` (used when `create_app` declares the routes), so any other route still
    needs RASA_API_TOKEN and refuses the dispatcher's with Rasa's own 401."""
    import rasa.server

    original = rasa.server.requires_auth
    expected = dispatch_token.encode()

    def requires_auth(app: Any, token: Optional[str] = None) -> Any:
        check = original(app, token)

        def decorator(f: Any) -> Any:
            checked = check(f)
            if f.__name__ not in DISPATCH_ROUTES:
                return checked

            @functools.wraps(checked)
            async def decorated(request: Any, *args: Any, **kwargs: Any) -> Any:
                if hmac.compare_digest(str(request.args.get("token", "")).encode(), expected):
                    result = f(request, *args, **kwargs)
                    return await result if isawaitable(result) else result
                return await checked(request, *args, **kwargs)

            return decorated

        return decorator

    rasa.server.requires_auth = requires_auth


def apply() -> None:
    import skops.io  # noqa: F401  - builds its trusted-type tables while few modules are loaded

    _cache_action_result_validation()
    _memoise_event_types()


def with_api_token(argv: List[str], environ: Dict[str, str]) -> List[str]:
    """`argv` plus `--auth-token` from RASA_API_TOKEN for `run --enable-api` (unless argv already names one)."""
    token = settings.load(environ).rasa_api_token
    if not token or "--auth-token" in argv or "--enable-api" not in argv:
        return argv
    return [*argv, "--auth-token", token]


def main() -> None:
    os.umask(0o077)
    apply()
    from rasa.__main__ import main as rasa_main

    sys.argv = with_api_token(["rasa", *sys.argv[1:]], dict(os.environ))
    if "--enable-api" in sys.argv:
        allow_dispatch_token(tokens.token(*tokens.REMINDER_DISPATCH))
    rasa_main()


if __name__ == "__main__":
    main()
