"""The messaging step actions: 09 receive the consumer's message, 10 send the test message back
(inside the 24-hour window), and the status timeline they read from the webhook store.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import math
import time
from typing import Any

import pandas as pd

from ... import operations as ops
from ...errors import WebhookStatusFailed
from ...i18n import N_, _
from ...remedies import lookup as lookup_remedy
from ...webhooks import WebhookStore
from .. import display
from ..journal import (guarded_write, journal_for, message_sent_since, send_outcome_unknown)
from ..step import Step
from .common import now_epoch, phone_number_id, step_action, webhook_db_path

WINDOW_SECONDS = 24 * 3600
MAX_WAMID_LENGTH = 128
CONSUMER_TEST_TEXT = "Hello!"


def _epoch(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return pd.Timestamp(value).timestamp()
    try:
        return float(value)
    except (TypeError, ValueError):
        return pd.Timestamp(value).timestamp()


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="seconds")


# ---- 09 receive a message -----------------------------------------------------------------------
@step_action
def receive_message(step: Step, *, text: str = CONSUMER_TEST_TEXT) -> dict[str, Any]:
    """Step 6: the consumer writes (the peer, else a person asked to); wait for it in the webhook store."""
    p = step.params
    (consumer,) = step.require("consumer_number")
    with step.action(N_("find the business number")):
        phone_id = phone_number_id(step)
    db = webhook_db_path(step)
    store = WebhookStore(db)
    since = time.time() - 1.0
    with step.action(N_("the consumer sends a message")):
        simulated = step.peer.consumer_writes(phone_id, consumer, text)
    if not simulated:
        display.markdown(_("**Now send a WhatsApp message from {consumer} to the business number** "
                    "(waiting up to {seconds} s).").format(consumer=consumer, seconds=f"{p['wait_seconds']:g}"))
    with step.action(N_("wait for the message in the webhook store")):
        message = store.wait_for_message(from_number=consumer, phone_number_id=phone_id,
                                         timeout=p["wait_seconds"], since=since)
    sent_at = _epoch(message.get("timestamp"))
    window_ends = sent_at + WINDOW_SECONDS if sent_at is not None else None
    shown = {k: message.get(k) for k in ("id", "from", "contact_name", "type", "text", "timestamp", "received_at",
                                         "phone_number_id")}
    step.fact(message_id=message.get("id"), type=message.get("type"), text=message.get("text"),
              sent_at=_iso(sent_at), window_ends_at=_iso(window_ends), simulated=simulated, webhook_db=str(db))
    step.output(window_ends_at=_iso(window_ends))
    table = pd.DataFrame([(k, v) for k, v in shown.items()] + [(_("24-hour window ends"), _iso(window_ends))],
                         columns=[N_("field"), N_("value")])
    return {"message": table, "ok": True, "window_ends_at": _iso(window_ends),
            "verdict": _("received {type} {text} from {sender}; the customer service window is open until "
                         "{window_ends}").format(type=message.get("type"), text=repr(message.get("text")),
                                                 sender=message.get("from"), window_ends=_iso(window_ends))}


# ---- 10 send a test message ---------------------------------------------------------------------
def window_open(step: Step, store, phone_id: str, consumer: str) -> tuple[bool, str | None]:
    """(open?, when it ends) from the consumer's latest message in the store and the API's clock."""
    messages = store.messages(phone_number_id=phone_id, from_number=consumer)
    if messages.empty:
        return False, None
    last = _epoch(messages["timestamp"].iloc[-1])
    if last is None:
        return False, None
    ends = last + WINDOW_SECONDS
    return now_epoch(step) < ends, _iso(ends)


@step_action
def send_test_message(step: Step) -> dict[str, Any]:
    """Step 7: a text inside the 24-hour window, else the hello_world template; follow its statuses."""
    p = step.params
    (consumer,) = step.require("consumer_number")
    with step.action(N_("find the business number")):
        phone_id = phone_number_id(step)
    store = WebhookStore(webhook_db_path(step))
    is_open, ends = window_open(step, store, phone_id, consumer)
    key = f"message_send:{phone_id}>{consumer}"
    kind = "text" if is_open else "template"

    def send() -> dict[str, Any]:
        if is_open:
            answer = ops.send_text(step.client, phone_id, consumer, p["message_text"])
        else:
            answer = ops.send_template(step.client, phone_id, consumer, name=p["template_name"],
                                       language=p["template_language"])
        return {"wamid": ops.message_id(answer), "kind": kind}
    with step.action(N_("send the test message")):
        # Never a second test message: one the journal (or the webhook store) shows sent is followed instead.
        sent = guarded_write(step, key, f"send the test {kind} message", keep=("wamid", "kind"), write=send,
                             read_back=lambda: message_sent_since(step, store, key, phone_id, consumer),
                             rewrite=False, trust_done=True, details={"kind": kind}, resend_after_silence=True,
                             unknown=lambda entry: send_outcome_unknown(step, store, phone_id, consumer))
        wamid, kind = str(sent.value["wamid"]), str(sent.value.get("kind") or kind)
    step.output(message_id=wamid)
    sent_clock = time.time()
    final = None
    with step.action(N_("follow the statuses in the webhook store")):
        final = store.wait_for_status(wamid, "delivered", timeout=p["wait_seconds"])
        if final["status"] != "failed":
            with contextlib.suppress(TimeoutError):
                final = store.wait_for_status(wamid, "read", timeout=min(p["wait_seconds"], 10.0 if step.peer.consumer_reads else 3.0))
    timeline = status_timeline(store, wamid, sent_clock)
    statuses = timeline["status"].tolist()
    step.fact(kind=kind, window_open=is_open, window_ends_at=ends, message_id_length=len(wamid),
              message_id_ok=len(wamid) <= MAX_WAMID_LENGTH, statuses=statuses, final_status=final["status"],
              message_adopted=sent.adopted, message_from_journal=sent.from_journal)
    if final["status"] == "failed":
        journal_for(step).failed(key, f"status webhook: message {wamid} failed")  # undelivered: a new one may be sent
        code = final.get("error_code")
        code = int(code) if code is not None and not pd.isna(code) else None
        entry = lookup_remedy(code)
        error = {"type": "StatusWebhook", "code": code, "title": entry.title if entry else None,
                 "message": _("message {wamid} failed (status webhook)").format(wamid=wamid),
                 "details": final.get("errors"), "remedy": entry.remedy if entry else None}
        exc = WebhookStatusFailed(wamid, code, final.get("errors"))
        step.record_failure(exc, "follow the statuses in the webhook store", error=error)
        raise exc
    return {"timeline": timeline, "ok": final["status"] in ("delivered", "read", "played"), "message_id": wamid,
            "kind": kind,
            "verdict": (_("{kind} message {wamid} reached '{status}' ({statuses})") if is_open else
                        _("{kind} message {wamid} reached '{status}' ({statuses}); sent as the template because the "
                          "24-hour window was not open")).format(kind=kind, wamid=wamid, status=final["status"],
                                                                  statuses=" → ".join(statuses))}


def status_timeline(store, wamid: str, sent_clock: float | None = None) -> pd.DataFrame:
    """The message's statuses in order, with seconds from the send to each webhook's arrival."""
    frame = store.statuses(message_id=wamid)
    columns = ["status", "timestamp", "after_s", "error_code", "pricing_model", "pricing_type", "category", "billable"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame = frame.copy()
    if sent_clock is not None and "received_at" in frame:
        frame["after_s"] = [round(_epoch(v) - sent_clock, 2) if _epoch(v) is not None else None
                            for v in frame["received_at"]]
    else:
        frame["after_s"] = None
    return frame[[c for c in columns if c in frame.columns]].reset_index(drop=True)
