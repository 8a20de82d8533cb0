"""Every webhook body the sandbox delivers validates against the spec's WebhookPayload, signed over its exact bytes."""
from __future__ import annotations

import json

import pytest

from helpers.sandbox.state import CONSUMER_MESSAGE_TYPES
from sandbox_fixtures import CONSUMER, LIVE_PHONE, receiver, signature_ok, wait_for  # noqa: F401
import spec_validation as sv

PAYLOAD = "#/components/schemas/WebhookPayload"


def subscribe(graph, receiver) -> None:
    assert graph.set_app_callback(receiver.url("app")).status_code == 200
    assert graph.post("200000000000001/subscribed_apps").status_code == 200


def consumer_sends_every_type(sb) -> list[str]:
    first = sb.control.consumer_message(LIVE_PHONE, CONSUMER, "Does it come in blue? äöå")
    sent = [first]
    contents = {"image": {}, "location": {"name": "Philz Coffee", "address": "101 Forest Ave, Palo Alto"},
                "reaction": {"message_id": first["id"], "emoji": "❤️"}, "button_reply": {"id": "yes-button"},
                "list_reply": {"id": "priority_express", "description": "Next Day to 2 Days"}, "contacts": {}}
    for kind in CONSUMER_MESSAGE_TYPES[1:]:
        text = {"image": "Taj Mahal", "button_reply": "Yes", "list_reply": "Priority Mail Express"}.get(kind)
        sent.append(sb.control.consumer_message(LIVE_PHONE, CONSUMER, text, type=kind, content=contents[kind]))
    assert [s["type"] for s in sent] == ["text", "image", "location", "reaction", "interactive", "interactive",
                                         "contacts"]
    return [s["id"] for s in sent]


def test_every_delivered_body_validates_and_is_signed(graph, sb, receiver):
    subscribe(graph, receiver)
    message_ids = consumer_sends_every_type(sb)
    # Statuses: sent/delivered/read for a text in the window, failed (131026) for a number that is not on WhatsApp.
    assert graph.send_text(LIVE_PHONE).status_code == 200
    assert graph.send_text(LIVE_PHONE, to="+16505550177").status_code == 200
    posts = wait_for(lambda: (p := receiver.posts_to("app")) and len(p) >= len(message_ids) + 4 and p,
                     what="every notification")
    secret = graph.env["WHATSAPP_APP_SECRET"]
    kinds, failures = set(), []
    for post in posts:
        assert signature_ok(post["body"], post["headers"].get("X-Hub-Signature-256"), secret)
        payload = json.loads(post["body"])
        problems, _ = sv.problems(payload, PAYLOAD, "webhooks")
        failures += problems
        value = payload["entry"][0]["changes"][0]["value"]
        for message in value.get("messages", []):
            kinds.add(message["type"] + ("/" + message["interactive"]["type"] if message["type"] == "interactive" else ""))
        for status in value.get("statuses", []):
            kinds.add("status/" + status["status"])
            (contact,) = value["contacts"]  # live_meta.yaml status-contacts
            assert contact["wa_id"] == status["recipient_id"] and contact["user_id"] == status["recipient_user_id"]
    assert not failures, "\n".join(failures)
    assert kinds == {"text", "image", "location", "reaction", "interactive/button_reply", "interactive/list_reply",
                     "contacts", "status/sent", "status/delivered", "status/read", "status/failed"}
    print(f"\n{len(posts)} notifications of {len(kinds)} kinds validated against WebhookPayload")


def test_a_wrong_payload_is_caught():
    problems, _ = sv.problems({"object": "whatsapp_business_account", "entry": [{"changes": []}]}, PAYLOAD, "webhooks")
    assert problems and "'id' is a required property" in problems[0]


def _spec_example(reference: str):
    """ "webhook NAME", "request METHOD TEMPLATE NAME" or "METHOD TEMPLATE STATUS NAME" -> (instance, pointer, context)."""
    doc = sv.document()
    if reference.startswith("request "):
        method, template, name = reference.removeprefix("request ").split(" ", 2)
        examples = sv.operation(method, template)["requestBody"]["content"]["application/json"]["examples"]
        return examples[name]["value"], sv.request_schema(method, template), "requests"
    if reference.startswith("webhook "):
        examples = doc["paths"]["/whatsapp/webhooks"]["post"]["requestBody"]["content"]["application/json"]["examples"]
        return examples[reference.removeprefix("webhook ")]["value"], PAYLOAD, "webhooks"
    method, template, status, name = reference.split(" ", 3)
    pointer = sv.response_schema(method, template, int(status))
    response = sv.operation(method, template)["responses"][status]
    return response["content"]["application/json"]["examples"][name]["value"], pointer, "responses"


SPEC_DEFECTS = [(d, ref) for d in sv.spec.live_meta() for ref in d.get("spec_example", [])]


@pytest.mark.parametrize("diff,reference", SPEC_DEFECTS, ids=[f"{d['id']}:{r}" for d, r in SPEC_DEFECTS])
def test_each_claimed_spec_defect_is_in_metas_own_example(diff, reference):
    """A difference said to be a spec defect really is one: Meta's own example fails the spec there."""
    instance, pointer, _ = _spec_example(reference)
    assert sv.explains_some_error(instance, pointer, diff), f"Meta's example {reference!r} does not fail at {diff['id']}"
