"""A webhook delivery split into rows for the store (pure: no SQL, never raises on bad input).

`parse_delivery` gives the body's problem, if any, and one `_Change` per `entry[].changes[]`,
with the `messages` field split into message and status rows; also the lists of known fields.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

# Group changes: the spec's samples say `group_participants_update` (as live Meta does), its enum
# `group_participant_update`; both are accepted.
GROUP_FIELDS = frozenset({
    "group_lifecycle_update", "group_participants_update", "group_participant_update", "group_settings_update",
    "group_status_update",
})
# Fields a WhatsApp Business Account subscription can deliver (reference §1.9). Others are kept but flagged.
# Written out rather than read from the spec: the receiver never parses YAML. tests/contract checks that
# every field the spec's samples and its `Change.field` enum use is here.
KNOWN_FIELDS = frozenset({
    "messages", "account_update", "account_alerts", "account_review_update", "business_capability_update",
    "phone_number_name_update", "phone_number_quality_update", "message_template_status_update",
    "message_template_quality_update", "message_template_components_update", "template_category_update",
    "security", "user_preferences", "history", "smb_app_state_sync", "smb_message_echoes", "message_echoes",
    "partner_solutions", "calls", "flows", "automatic_events", "payment_configuration_update",
}) | GROUP_FIELDS
MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})


@dataclass
class _Change:
    field: str | None
    waba_id: str | None
    value: str | None
    problems: list[str] = field(default_factory=list)
    messages: list[tuple] = field(default_factory=list)
    statuses: list[tuple] = field(default_factory=list)


def _text(value: Any) -> str | None:
    """A value as SQLite text: strings as they are, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if -(2 ** 63) <= number < 2 ** 63 else None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _joined(parts: Iterable[Any], sep: str) -> str | None:
    return sep.join(part for part in parts if part) or None


def _location(part: dict) -> str | None:
    # "lat,long name": the coordinates always, then the place's name (or its address).
    where = _joined((_text(part.get("latitude")), _text(part.get("longitude"))), ",")
    return _joined((where, _text(part.get("name") or part.get("address"))), " ")


def _contact_names(cards: Any) -> str | None:
    names = []
    for card in cards if isinstance(cards, list) else []:
        name = _dict(_dict(card).get("name"))
        names.append(_text(name.get("formatted_name"))
                     or _joined((_text(name.get("first_name")), _text(name.get("last_name"))), " "))
    return _joined(names, ", ")


def _order(part: dict) -> str | None:
    items = [f"{_text(item.get('quantity'))} × {_text(item.get('product_retailer_id'))}"
             for item in (part.get("product_items") or []) if isinstance(item, dict)]
    return _joined((_text(part.get("text")), _joined(items, ", ")), ": ")


def _error_title(errors: Any) -> str | None:
    first = _dict(errors[0]) if isinstance(errors, list) and errors else {}
    return _text(first.get("title") or first.get("message"))


def _text_and_media_id(message: dict) -> tuple[str | None, str | None]:
    """The message as one readable line for the `text` column, and the media id to download, if any."""
    kind = message.get("type")
    part = _dict(message.get(kind)) if isinstance(kind, str) else {}
    if kind == "text":
        return _text(part.get("body")), None
    if kind in MEDIA_TYPES:
        return _text(part.get("caption") or part.get("filename")), _text(part.get("id"))
    if kind == "button":
        return _text(part.get("text") or part.get("payload")), None
    if kind == "interactive":
        reply = _dict(part.get("button_reply") or part.get("list_reply"))
        flow = _dict(part.get("nfm_reply"))  # a Flow's answer: its body, the answers in the raw event
        return _text(reply.get("title") or flow.get("body") or flow.get("name")), None
    if kind == "reaction":
        return _text(part.get("emoji")), None
    if kind == "location":
        return _location(part), None
    if kind == "contacts":
        return _contact_names(message.get("contacts")), None
    if kind == "order":
        return _order(part), None
    if kind == "system":
        return _text(part.get("body")), None
    # unsupported, unknown and types added later: what Meta says went wrong, else any body or text.
    return _error_title(message.get("errors")) or _text(part.get("body") or part.get("text")), None


def _context_id(message: dict) -> str | None:
    """The business message this one answers (`context.id`) or reacts to (`reaction.message_id`)."""
    return _text(_dict(message.get("context")).get("id") or _dict(message.get("reaction")).get("message_id"))


def _split_messages(change: _Change, value: dict) -> None:
    metadata = _dict(value.get("metadata"))
    phone_number_id = _text(metadata.get("phone_number_id"))
    display_phone_number = _text(metadata.get("display_phone_number"))
    contacts = [c for c in value.get("contacts") or [] if isinstance(c, dict)]
    # Contacts name the sender of a message or the recipient of a status, by phone number (wa_id)
    # or, for users known only by a business-scoped user id, by that id.
    by_id: dict[Any, dict] = {}
    for contact in contacts:
        for key in (contact.get("wa_id"), contact.get("user_id")):
            if key:
                by_id.setdefault(key, contact)
    only_contact = contacts[0] if len(contacts) == 1 else {}
    messages, statuses = value.get("messages") or [], value.get("statuses") or []
    if not isinstance(messages, list) or not isinstance(statuses, list):
        change.problems.append("'messages' or 'statuses' is not a list")
        return
    if not messages and not statuses and not value.get("errors"):
        change.problems.append("a 'messages' change with no messages, statuses or errors")
    for message in messages:
        if not isinstance(message, dict) or not message.get("id"):
            change.problems.append("a message without an id was not split into a row")
            continue
        contact = by_id.get(message.get("from")) or by_id.get(message.get("from_user_id")) or only_contact
        text, media_id = _text_and_media_id(message)
        errors = message.get("errors") or None
        change.messages.append((
            _text(message["id"]), _text(message.get("from")),
            _text(message.get("from_user_id") or contact.get("user_id")), _text(message.get("type")),
            text, media_id, _text(message.get("timestamp")), phone_number_id, change.waba_id,
            display_phone_number, _text(_dict(contact.get("profile")).get("name")),
            _context_id(message), _text(message.get("group_id")), _text(errors),
            _int(_dict(errors[0]).get("code")) if isinstance(errors, list) and errors else None,
        ))
    for status in statuses:
        if not isinstance(status, dict) or not status.get("id") or not status.get("status"):
            change.problems.append("a status without an id or status was not split into a row")
            continue
        errors = status.get("errors") or None
        first_error = _dict(errors[0]) if isinstance(errors, list) and errors else {}
        pricing = _dict(status.get("pricing"))
        billable = pricing.get("billable")
        to_group = status.get("recipient_type") == "group"
        # In a group, recipient_id is the group and the person is recipient_participant_id.
        contact = (by_id.get(status.get("recipient_participant_id") if to_group else status.get("recipient_id"))
                   or only_contact)
        change.statuses.append((
            _text(status["id"]), _text(status["status"]), _text(status.get("timestamp")) or "",
            _text(status.get("recipient_id")), _text(status.get("recipient_user_id") or contact.get("user_id")),
            _text(errors), _int(first_error.get("code")),
            int(billable) if isinstance(billable, bool) else None, _text(pricing.get("pricing_model")),
            _text(pricing.get("type")), _text(pricing.get("category")), phone_number_id, change.waba_id,
            _text(status.get("group_id") or (status.get("recipient_id") if to_group else None)),
        ))


def _check_groups(change: _Change, value: dict) -> None:
    """Group changes stay whole in `events`; only their shape is checked."""
    groups = value.get("groups")
    if not isinstance(groups, list) or not groups:
        change.problems.append("a group change with no 'groups' list")
    elif not all(isinstance(group, dict) and group.get("group_id") for group in groups):
        change.problems.append("a group without a 'group_id'")


def _parse_change(entry: dict, change: Any) -> _Change:
    waba_id = _text(entry.get("id"))
    if not isinstance(change, dict):
        return _Change(None, waba_id, _text(change), ["a change that is not an object"])
    name, value = change.get("field"), change.get("value")
    parsed = _Change(_text(name), waba_id, json.dumps(value, ensure_ascii=False))
    if not isinstance(name, str):
        parsed.problems.append("a change without a 'field'")
    elif name not in KNOWN_FIELDS:
        parsed.problems.append(f"unknown field {name!r} (kept whole)")
    if not isinstance(value, dict):
        parsed.problems.append("a change whose 'value' is not an object")
    elif name == "messages":
        _split_messages(parsed, value)
    elif name in GROUP_FIELDS:
        _check_groups(parsed, value)
    return parsed


def parse_delivery(body: bytes) -> tuple[str | None, list[_Change]]:
    """(problem with the body as a whole, or None; its changes). Never raises on bad input."""
    try:
        return _parse_delivery(body)
    except Exception as exc:  # a shape nobody anticipated: keep the body, flag it, carry on
        return f"could not be split into rows ({type(exc).__name__})", []


def _parse_delivery(body: bytes) -> tuple[str | None, list[_Change]]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return f"not JSON ({exc})", []
    except RecursionError:
        return "not JSON (nested too deeply)", []
    if not isinstance(payload, dict):
        return "not a JSON object", []
    if payload.get("object") != "whatsapp_business_account":
        return f"object is {payload.get('object')!r:.80}, not 'whatsapp_business_account'", []
    entries = payload.get("entry")
    if not isinstance(entries, list) or not entries:
        return "no 'entry' list", []
    changes: list[_Change] = []
    for entry in entries:
        entry_changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(entry_changes, list) or not entry_changes:
            changes.append(_Change(None, _text(_dict(entry).get("id")), _text(entry), ["an entry without 'changes'"]))
            continue
        changes.extend(_parse_change(entry, change) for change in entry_changes)
    return None, changes
