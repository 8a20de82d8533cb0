"""helpers.tables: the pandas views a solutions engineer reads."""
from __future__ import annotations

import pandas as pd

from helpers import tables

NUMBERS = [
    {"id": "1", "display_phone_number": "+1 555-0001", "verified_name": "Ready", "code_verification_status": "VERIFIED",
     "platform_type": "CLOUD_API", "name_status": "APPROVED", "status": "PENDING", "quality_rating": "GREEN",
     "throughput": {"level": "STANDARD"}},
    {"id": "2", "display_phone_number": "+1 555-0002", "verified_name": "Live", "code_verification_status": "VERIFIED",
     "platform_type": "CLOUD_API", "name_status": "AVAILABLE_WITHOUT_REVIEW", "status": "CONNECTED"},
    {"id": "3", "display_phone_number": "+1 555-0003", "code_verification_status": "NOT_VERIFIED",
     "platform_type": "ON_PREMISE", "new_name_status": "PENDING_REVIEW", "status": "PENDING"},
]


def test_phone_numbers_table_readiness():
    table = tables.phone_numbers_table(NUMBERS)
    assert list(table["phone_number_id"]) == ["1", "2", "3"]
    assert list(table["ready_to_register"]) == [True, True, False]
    assert list(table["connected"]) == [False, True, False]
    assert table.loc[2, "name_status"] == "PENDING_REVIEW"  # the requested name when there is no current one
    assert table.loc[0, "throughput"] == "STANDARD"
    assert tables.phone_numbers_table([]).columns.tolist() == table.columns.tolist()


def test_style_phone_numbers_colours_flags_and_hides_the_index():
    html = tables.style_phone_numbers(tables.phone_numbers_table(NUMBERS)).to_html()
    assert "#d4edda" in html and "#f8d7da" in html
    assert ">0</th>" not in html  # no row index


def test_token_report_table_verdict():
    report = {"is_valid": True, "type": "SYSTEM_USER", "application": "App", "app_id": "9", "expires": "never",
              "scopes": ["a"], "missing_scopes": ["whatsapp_business_messaging"], "target_ids": None,
              "waba_in_targets": None, "ok": False, "problems": ["missing scope whatsapp_business_messaging"]}
    table = tables.token_report_table(report)
    values = dict(zip(table["check"], table["value"]))
    assert values["target WABAs"] == "all assets (no target list)" and values["WABA among targets"] == "n/a"
    assert values["verdict"] == "NOT usable: missing scope whatsapp_business_messaging"


def test_subscribed_apps_table():
    table = tables.subscribed_apps_table([{"whatsapp_business_api_data": {"id": 7, "name": "App", "link": "l"},
                                           "override_callback_uri": "https://x"}])
    assert table.to_dict("records") == [{"app_id": "7", "name": "App", "link": "l", "override_callback_uri": "https://x"}]


def test_style_error_keeps_every_word():
    long = "word " * 40
    html = tables.style_error(pd.DataFrame([("remedy", long)], columns=["field", "value"])).to_html()
    assert long.strip() in html and "pre-wrap" in html
