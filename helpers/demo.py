"""`python -m helpers demo`: one customer's whole onboarding, headless, against the embedded sandbox.

Starts the sandbox and a webhook receiver in this process, then walks the guide's steps
with the library calls the notebooks use, printing each step's table.
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import pandas as pd

from . import operations as ops, tables
from .client import GraphClient
from .errors import GraphAPIError
from .profiles import load_profile

DEFAULT_PROFILE = Path(__file__).resolve().parent.parent / "customers" / "example.yaml"


def add_parser(commands) -> None:
    parser = commands.add_parser("demo", help="onboard a sandbox customer end to end, headless, and print each step")
    parser.add_argument("profile", nargs="?", default=str(DEFAULT_PROFILE), help="customer profile YAML (default: customers/example.yaml)")
    parser.set_defaults(handler=run)


def _show(title: str, frame: pd.DataFrame | str) -> None:
    print(f"\n== {title}")
    print(frame if isinstance(frame, str) else frame.to_string(index=False))


def run(args: argparse.Namespace) -> int:
    from .sandbox import Sandbox
    from .webhooks import WebhookReceiver, WebhookStore

    profile = load_profile(args.profile)
    with tempfile.TemporaryDirectory(prefix="playbook-demo-") as tmp, Sandbox() as sandbox:
        os.environ.update(sandbox.demo_env())  # sandbox-only fake secrets, for this process
        db = Path(tmp) / "webhooks.sqlite"
        with WebhookReceiver(db, verify_token_env=profile["verify_token_env"],
                             app_secret_env=profile["app_secret_env"]) as receiver:
            print(f"sandbox at {sandbox.url}; webhook receiver at {receiver.callback_url}")
            try:
                onboard(profile, GraphClient(graph_url=sandbox.url, token_env=profile["token_env"]),
                        sandbox, receiver, WebhookStore(db))
            except GraphAPIError as exc:
                _show("FAILED", tables.error_table(exc))
                return 1
    print(f"\nCustomer '{profile['customer']}' onboarded: registered, received and sent a message.")
    return 0


def onboard(profile, client, sandbox, receiver, store) -> None:
    report = ops.check_token(client, app_id=profile["app_id"], app_secret_env=profile["app_secret_env"],
                             waba_id=profile["waba_id"])
    _show("Step 1: access token", tables.token_report_table(report))
    assert report["ok"], report["problems"]

    ops.set_app_webhook(client, app_id=profile["app_id"], app_secret_env=profile["app_secret_env"],
                        callback_url=receiver.callback_url, verify_token_env=profile["verify_token_env"])
    _show("Step 2: webhook", f"callback {receiver.callback_url} verified and saved for app {profile['app_id']}")

    ops.subscribe_app(client, profile["waba_id"])
    _show("Step 3: apps subscribed to the WABA", tables.subscribed_apps_table(ops.list_subscribed_apps(client, profile["waba_id"])))

    numbers = ops.list_phone_numbers(client, profile["waba_id"])
    _show("Step 4: phone numbers", tables.phone_numbers_table(numbers))
    number = ops.find_phone_number(numbers, display_phone_number=profile.get("display_phone_number", ""),
                                   phone_number_id=profile.get("phone_number_id", ""))
    phone_id = number["id"]

    if number.get("code_verification_status") != "VERIFIED":
        ops.request_code(client, phone_id)
        ops.verify_code(client, phone_id, sandbox.control.verification_code(phone_id))
    if number.get("status") != "CONNECTED":
        ops.register_phone_number(client, phone_id, pin_env=profile["pin_env"])
    after = ops.get_phone_number(client, phone_id)
    _show("Step 5: registered", tables.phone_numbers_table([after]))

    consumer = profile["consumer_number"]
    sandbox.control.consumer_message(phone_id, consumer, "Hello!")
    inbound = store.wait_for_message(from_number=consumer, phone_number_id=phone_id, timeout=30)
    _show("Step 6: message received", pd.DataFrame([inbound]))

    sent = ops.send_text(client, phone_id, consumer, profile.get("message_text", "hello world!"))
    wamid = ops.message_id(sent)
    store.wait_for_status(wamid, "read", timeout=30)
    _show("Step 7: test message statuses", store.statuses(message_id=wamid))
