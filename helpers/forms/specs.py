"""Which fields each step's form shows (the steps without a form class of their own)."""
from __future__ import annotations

from .base import Field

TOKEN = Field("token_env", "Access token", "secret")
APP_SECRET = Field("app_secret_env", "App secret", "secret")

STEP_FIELDS: dict[str, list[Field]] = {
    "00_plan": [
        Field("onboarding", "New or migrate", "choice", options=("new", "migrate")),
        Field("expected_peak_mps", "Peak messages/s", "number"),
        Field("compliance", "Compliance needs", "list", placeholder="GDPR, SOC 2, local storage"),
        Field("features", "Features used", "list", placeholder="text, templates, media"),
        Field("data_localization_region", "Local storage country", "region", placeholder="e.g. DE; empty: none"),
        Field("shares_whatsapp_business_app", "Shared with the WhatsApp Business app", "bool"),
    ],
    "01_assets": [
        Field("waba_id", "WABA ID", "id", required=True), Field("business_id", "Business Manager ID", "id"),
        Field("app_id", "App ID", "id"), Field("display_phone_number", "Business number", "phone"),
        Field("consumer_number", "Consumer test number", "phone"), TOKEN, APP_SECRET,
    ],
    "02_terms": [],
    "03_access_token": [
        Field("app_id", "App ID", "id"), Field("waba_id", "WABA ID", "id"), TOKEN, APP_SECRET,
        Field("signup_code", "Embedded Signup code", "text", placeholder="optional; single-use"),
    ],
    "04_webhooks": [
        Field("app_id", "App ID", "id", required=True),
        Field("callback_url", "Callback URL", "url", placeholder="https://…; empty on the sandbox: local receiver"),
        Field("webhook_db", "Webhook store (SQLite)", "text"),
        Field("verify_token_env", "Verify token", "secret"), APP_SECRET,
    ],
    "05_subscribe_waba": [Field("waba_id", "WABA ID", "id", required=True), Field("app_id", "App ID", "id"), TOKEN],
    "07_migration": [
        Field("onboarding", "New or migrate", "choice", options=("new", "migrate")),
        Field("phone_number_id", "Phone number ID", "id"), Field("display_phone_number", "…or display number", "phone"),
        Field("backup_data", "Backup data", "text", placeholder="from POST /v1/settings/backup on the On-Premises client"),
        Field("pin_env", "Two-step PIN (6 digits)", "pin"), Field("backup_password_env", "Backup password", "secret"),
        TOKEN,
    ],
    "09_receive_message": [
        Field("consumer_number", "Consumer number", "phone", required=True),
        Field("phone_number_id", "Phone number ID", "id"), Field("webhook_db", "Webhook store (SQLite)", "text"),
        Field("wait_seconds", "Wait (seconds)", "number"), TOKEN,
    ],
    "10_send_test_message": [
        Field("consumer_number", "Consumer number", "phone", required=True),
        Field("phone_number_id", "Phone number ID", "id"), Field("message_text", "Text (inside the window)", "text"),
        Field("template_name", "Template (outside it)", "text"), Field("webhook_db", "Webhook store (SQLite)", "text"),
        Field("wait_seconds", "Wait (seconds)", "number"), TOKEN,
    ],
}
