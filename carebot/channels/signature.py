"""Verify `X-Twilio-Signature` on the raw webhook body.

Sanic's `request.form` drops empty fields (a photo arrives with `Body=`), and Twilio signs every field it sent,
so the form must be re-parsed from the raw body with blank values kept or real signatures fail. Behind a proxy the
URL Twilio signed is the public one, hence `WHATSAPP_WEBHOOK_URL`.
"""

from __future__ import annotations

from typing import Dict, List, Optional
from urllib.parse import parse_qs, urlsplit

from twilio.request_validator import RequestValidator

# Suffixes an operator may include when setting WHATSAPP_WEBHOOK_URL to a full endpoint instead of the base URL.
_ENDPOINT_SUFFIXES = ("/webhooks/whatsapp/webhook", "/webhooks/whatsapp/status")


class FormParams(Dict[str, List[str]]):
    """Every value of every field, as Twilio sent them; `getall` is the accessor RequestValidator uses."""

    def getall(self, key: str) -> List[str]:
        return self[key]

    def first(self, key: str, default: str = "") -> str:
        values = self.get(key)
        return values[0] if values else default


def parse_form(raw_body: str) -> FormParams:
    return FormParams(parse_qs(raw_body, keep_blank_values=True))


def public_base_url(public_url: str) -> str:
    """`https://host/prefix` from either the base or a full endpoint URL."""
    base = public_url.strip().rstrip("/")
    for suffix in _ENDPOINT_SUFFIXES:
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def signed_url(request_url: str, public_url: Optional[str]) -> str:
    """The URL Twilio signed: the public base plus the request's path and query, else the request URL itself."""
    if not public_url:
        return request_url
    parts = urlsplit(request_url)
    return public_base_url(public_url) + parts.path + (f"?{parts.query}" if parts.query else "")


def is_valid_signature(auth_token: str, url: str, params: FormParams, signature: Optional[str]) -> bool:
    """RequestValidator checks the URL both with and without the default port, as Twilio's own guidance says."""
    if not signature or not auth_token:
        return False
    return RequestValidator(auth_token).validate(url, params, signature)


def sign(auth_token: str, url: str, params: Dict[str, str]) -> str:
    """The signature Twilio would send (for tests and the load script)."""
    return RequestValidator(auth_token).compute_signature(url, params)
