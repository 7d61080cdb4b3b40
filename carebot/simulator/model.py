"""What the simulator shows, pure: the webhook form of what the designer did on the phone, what the patient's phone
shows of each message the Twilio stand-in accepted, and each turn's side panel from Rasa's tracker events."""

from __future__ import annotations

import json
import uuid
from typing import Any, Dict, List, Mapping, Optional, Sequence

QUICK_REPLY = (
    "twilio/quick-reply"  # carebot.channels.buttons.QUICK_REPLY (not imported: no channel code here)
)
LIST_PICKER = "twilio/list-picker"
ACCOUNT_SID = "AC" + "51" * 16  # a made-up account: the stand-in accepts any
CLINIC_NUMBER = "+14155238886"  # Twilio's sandbox number: never a clinic's
PROFILE_NAME = "Simulated Patient"
WEBHOOK_PATH = "/webhooks/whatsapp/webhook"
# Slots shown as the triage's own lines rather than in the slot list.
TRIAGE_SLOTS = ("triage_state", "triage_level")


def new_phone() -> str:
    """A fresh patient number in Ofcom's drama range prefix (+447700 9…): never a real patient's."""
    return f"+4477009{uuid.uuid4().int % 100000:05d}"


def inbound_form(
    phone: str,
    *,
    body: str = "",
    button: Optional[Mapping[str, str]] = None,
    list_item: Optional[Mapping[str, str]] = None,
    media: Optional[Mapping[str, str]] = None,
    location: Optional[Mapping[str, Any]] = None,
    message_sid: str = "",
) -> Dict[str, str]:
    """The form Twilio posts for one WhatsApp message: typed text, a tapped quick reply (`button`: id, title), a
    list pick (`list_item`: id, title), a photo or document (`media`: url, content_type) or a shared location."""
    form = {
        "SmsMessageSid": "",
        "NumMedia": "0",
        "ProfileName": PROFILE_NAME,
        "WaId": phone.lstrip("+"),
        "Body": body,
        "To": f"whatsapp:{CLINIC_NUMBER}",
        "From": f"whatsapp:{phone}",
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "NumSegments": "1",
        "MessageSid": message_sid or f"SM{uuid.uuid4().hex}",
    }
    if button:
        form.update(Body=button["title"], ButtonText=button["title"], ButtonPayload=button["id"])
    if list_item:
        form.update(Body=list_item["title"], ListId=list_item["id"], ListTitle=list_item["title"])
    if media:
        form.update(NumMedia="1", MediaUrl0=media["url"], MediaContentType0=media["content_type"])
    if location:
        form.update(Latitude=str(location["latitude"]), Longitude=str(location["longitude"]))
        form.update(Address=str(location.get("address") or ""), Label=str(location.get("label") or ""))
    return form


def patient_bubble(form: Mapping[str, str]) -> Dict[str, Any]:
    """How the patient's own message shows in the chat."""
    bubble: Dict[str, Any] = {"from": "patient", "kind": "text", "body": form.get("Body", "")}
    if form.get("NumMedia", "0") != "0":
        bubble.update(kind="media", media_url=form.get("MediaUrl0", ""))
    if form.get("Latitude"):
        bubble.update(kind="location", latitude=form["Latitude"], longitude=form["Longitude"])
        bubble["body"] = form.get("Label") or form.get("Address") or ""
    return bubble


def bot_bubble(
    sid: str,
    body: str,
    media_url: str,
    content_sid: str,
    content_variables: str,
    shown: Optional[Mapping[str, Any]],
    templates: Mapping[str, str],
) -> Dict[str, Any]:
    """What the patient's phone shows of one accepted message: `shown` is the stand-in's filled-in content (tap to
    answer), None for a plain message or a template the stand-in did not make (a clinic's approved template: its
    name, by ContentSid, and its variables)."""
    bubble: Dict[str, Any] = {"from": "bot", "sid": sid}
    if shown is not None and shown.get("type") == QUICK_REPLY:
        buttons = [{"id": str(a.get("id", "")), "title": str(a.get("title", ""))} for a in shown["actions"]]
        return {**bubble, "kind": "buttons", "body": str(shown.get("body", "")), "buttons": buttons}
    if shown is not None and shown.get("type") == LIST_PICKER:
        items = [{"id": str(i.get("id", "")), "title": str(i.get("item", ""))} for i in shown["items"]]
        return {
            **bubble,
            "kind": "list",
            "body": str(shown.get("body", "")),
            "button": str(shown.get("button", "")),
            "items": items,
        }
    if shown is not None:
        return {**bubble, "kind": "text", "body": str(shown.get("body", ""))}
    if content_sid:
        names = {sid_: name for name, sid_ in templates.items()}
        try:
            variables = json.loads(content_variables or "{}")
        except ValueError:
            variables = {"raw": content_variables}
        return {
            **bubble,
            "kind": "template",
            "template": names.get(content_sid, content_sid),
            "variables": variables,
        }
    if media_url:
        return {**bubble, "kind": "media", "body": body, "media_url": media_url}
    return {**bubble, "kind": "text", "body": body}


def with_staff(events: Sequence[Mapping[str, Any]]) -> bool:
    """True when the bot handed the conversation to staff (its last `pause` has no `resume` after it): the
    channel then adds the patient's messages to the staff case, and the bot answers nothing until staff resolve it."""
    for event in reversed(events):
        if event.get("event") in ("pause", "resume"):
            return bool(event.get("event") == "pause")
    return False


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def panels(events: Sequence[Mapping[str, Any]], flows: Mapping[str, Sequence[str]]) -> List[Dict[str, Any]]:
    """One panel per patient message (or intent the bot's own processes triggered) in Rasa's tracker events: its
    intent, confidence, the runner-up intents, entities, then what the bot did until the next message — actions
    with the policy that chose them, slots set, triage findings, protocols and level — and the flow diagrams
    (`flows`: action name → docs/flows file names) of the actions that ran."""
    shown: List[Dict[str, Any]] = []
    current: Optional[Dict[str, Any]] = None
    for event in events:
        kind = event.get("event")
        if kind == "user":
            parse = event.get("parse_data") or {}
            intent = parse.get("intent") or {}
            ranking = [
                {"name": str(r.get("name")), "confidence": round(float(r.get("confidence") or 0), 3)}
                for r in (parse.get("intent_ranking") or [])[1:4]
            ]
            tapped = ((event.get("metadata") or {}).get("button_reply") or {}).get("text")
            current = {
                "text": str(event.get("text") or ""),
                "tapped": str(tapped or ""),  # the title of the button or number the payload came from
                "message_id": str(event.get("message_id") or ""),
                "intent": str(intent.get("name") or ""),
                "confidence": round(float(intent.get("confidence") or 0), 3),
                "ranking": ranking,
                "entities": [
                    {
                        "entity": str(e.get("entity")),
                        "value": _short(e.get("value"), 60),
                        "role": str(e.get("role") or ""),
                        "extractor": str(e.get("extractor") or ""),
                    }
                    for e in parse.get("entities") or []
                ],
                "actions": [],
                "slots": {},
                "cleared": [],
                "triage": {},
                "flows": [],
            }
            shown.append(current)
        elif current is None:
            continue
        elif kind == "action" and event.get("name") != "action_listen":
            name = str(event.get("name") or "")
            confidence = event.get("confidence")
            current["actions"].append(
                {
                    "name": name,
                    "policy": str(event.get("policy") or ""),
                    "confidence": round(float(confidence), 3) if confidence is not None else None,
                }
            )
            for diagram in flows.get(name, ()):
                if diagram not in current["flows"]:
                    current["flows"].append(diagram)
        elif kind == "active_loop" and event.get("name"):
            current["actions"].append(
                {"name": f"form {event['name']} active", "policy": "", "confidence": None}
            )
        elif kind == "slot":
            name, value = str(event.get("name") or ""), event.get("value")
            if name == "triage_state" and isinstance(value, Mapping):
                protocols = [str(p) for p in value.get("protocols") or []]
                current["triage"].update(
                    findings=[str(f) for f in value.get("findings") or []],
                    denied=[str(f) for f in value.get("denied") or []],
                    protocols=protocols,
                    age_group=str(value.get("age_group") or ""),
                )
                for protocol in protocols:
                    diagram = f"triage-{protocol}"
                    if diagram not in current["flows"]:
                        current["flows"].append(diagram)
            elif name == "triage_level":
                current["triage"]["level"] = value
            elif value is None:
                current["slots"].pop(name, None)
                if name not in current["cleared"]:
                    current["cleared"].append(name)
            else:
                current["slots"][name] = _short(value)
                if name in current["cleared"]:
                    current["cleared"].remove(name)
    return shown
