"""Which fields each step's form shows (the steps without a form class of their own).

Labels, kinds and placeholders come from the parameter registry (helpers.parameters); only
which fields, and which are required in the form, are said here.
"""
from __future__ import annotations

from .base import field

STEP_FIELDS = {
    "00_plan": [field(n) for n in ("onboarding", "expected_peak_mps", "compliance", "features",
                                   "data_localization_region", "shares_whatsapp_business_app")],
    "01_assets": [field("waba_id", required=True)] + [field(n) for n in (
        "business_id", "app_id", "display_phone_number", "consumer_number", "token_env", "app_secret_env")],
    "02_terms": [],
    "03_access_token": [field(n) for n in ("app_id", "waba_id", "token_env", "app_secret_env", "signup_code")],
    "04_webhooks": [field("app_id", required=True)] + [field(n) for n in (
        "callback_url", "webhook_db", "verify_token_env", "app_secret_env")],
    "05_subscribe_waba": [field("waba_id", required=True), field("app_id"), field("token_env")],
    "07_migration": [field(n) for n in ("onboarding", "phone_number_id", "display_phone_number", "backup_data",
                                        "pin_env", "backup_password_env", "token_env")],
    "07a_system_user": [field("waba_id", required=True)] + [field(n) for n in (
        "partner_business_id", "system_user_id", "assigned_tasks", "partner_token_env", "token_env")],
    "07b_credit_line": [field("waba_id", required=True)] + [field(n) for n in (
        "partner_business_id", "credit_line_id", "waba_currency", "partner_token_env", "token_env")],
    "09_receive_message": [field("consumer_number", required=True)] + [field(n) for n in (
        "phone_number_id", "webhook_db", "wait_seconds", "token_env")],
    "10_send_test_message": [field("consumer_number", required=True)] + [field(n) for n in (
        "phone_number_id", "message_text", "template_name", "webhook_db", "wait_seconds", "token_env")],
    "11_business_profile": [field(n) for n in (
        "phone_number_id", "business_about", "business_address", "business_description", "business_email",
        "business_websites", "business_vertical", "token_env")],
    "12_templates": [field("waba_id", required=True)] + [field(n) for n in (
        "first_template_name", "first_template_language", "first_template_body", "template_wait_seconds", "token_env")],
    "13_go_live": [field(n) for n in ("phone_number_id", "display_phone_number", "waba_id", "token_env")],
}
