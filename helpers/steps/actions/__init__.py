"""The step actions: one function per step notebook, by guide phase.

    common         the `step_action` mark, the number to work on, the API's clock, the webhook store's path
    setup          00 plan, 01 assets, 02 terms, 03 access token
    webhook_setup  04 the app's callback, 05 the app subscribed to the WABA
    numbers        06 phone numbers, 07 migration (legacy), 08 register
    messaging      09 receive a message, 10 send the test message, the status timeline
    partner        the Solution Partner's steps: 07a system user, 07b credit line, 11 business profile,
                   12 templates, 13 go-live health

Each action takes the `Step` and returns {"ok", "verdict", tables...}; notebooks and the forms'
Run buttons call the same function (re-exported by helpers.steps).
"""
from __future__ import annotations

from .common import (NUMBER_FIELDS, default_webhook_db, now_epoch, phone_number_id, resolve_phone_number, step_action,
                     webhook_db_path)
from .messaging import (CONSUMER_TEST_TEXT, MAX_WAMID_LENGTH, WINDOW_SECONDS, receive_message, send_test_message,
                        status_timeline, window_open)
from .numbers import migration, phone_numbers, register, set_new_pin_and_register
from .partner import (business_profile, credit_line, go_live, health_table, partner_client, system_user, templates,
                      templates_table, users_table)
from .setup import (GUIDE_API_VERSION, WABA_ASSET_FIELDS, access_token, assets, earlier_terms_failure, plan, terms,
                    versions_table)
from .webhook_setup import subscribe_waba, subscriptions_table, webhooks

__all__ = [
    "NUMBER_FIELDS", "default_webhook_db", "now_epoch", "phone_number_id", "resolve_phone_number", "step_action",
    "webhook_db_path", "CONSUMER_TEST_TEXT", "MAX_WAMID_LENGTH", "WINDOW_SECONDS", "receive_message",
    "send_test_message", "status_timeline", "window_open", "migration", "phone_numbers", "register",
    "set_new_pin_and_register", "business_profile", "credit_line", "go_live", "health_table", "partner_client",
    "system_user", "templates", "templates_table", "users_table", "GUIDE_API_VERSION", "WABA_ASSET_FIELDS",
    "access_token", "assets", "earlier_terms_failure", "plan", "terms", "versions_table", "subscribe_waba",
    "subscriptions_table", "webhooks",
]
