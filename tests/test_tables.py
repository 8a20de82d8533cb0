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


# ---- tables.show: the one display every step table goes through ------------------------------------
def _cells(styler) -> list[str]:
    import re
    return re.findall(r'<td id="T_\w+_row\d+_col\d+" class="data row\d+ col\d+" >(.*?)</td>', styler.to_html())


def test_show_never_cuts_text_and_aligns_it_left():
    long = "NOT usable: token is not valid: Error validating access token: Session has expired on Tuesday"
    html = tables.show(pd.DataFrame({"check": ["verdict"], "value": [long]})).to_html()
    assert long in html and "…" not in html
    assert "text-align: left" in html and "white-space: pre-wrap" in html


def test_show_has_no_row_index():
    html = tables.show(pd.DataFrame({"a": ["x", "y"]}, index=[7, 8])).to_html()
    assert "row_heading" not in html and ">7<" not in html and ">0<" not in html


def test_show_leaves_missing_values_blank():
    frame = pd.DataFrame({"a": ["x", None, "z"], "b": [1.5, float("nan"), 2.5],
                          "c": pd.array([1, pd.NA, 3], dtype="Int64")})
    cells = _cells(tables.show(frame))
    assert cells == ["x", "1.5", "1", "", "", "", "z", "2.5", "3"]
    assert not any(c in ("None", "nan", "NaN", "&lt;NA&gt;") for c in cells)


def test_show_writes_integer_valued_floats_as_integers():
    cells = _cells(tables.show(pd.DataFrame({"subcode": [33.0, 463.0, None], "after_s": [0.25, 1.0, 2.5]})))
    assert cells == ["33", "0.25", "463", "1", "", "2.5"]


def test_show_writes_every_time_to_the_second_with_the_zone():
    expected = "2026-12-01 12:00:05 UTC"
    frame = pd.DataFrame({
        "received_at": [pd.Timestamp("2026-12-01 12:00:05.123456789", tz="UTC"), 1796126405.75],
        "timestamp": ["1796126405", "2026-12-01T13:00:05+01:00"],
    })
    assert _cells(tables.show(frame)) == [expected] * 4
    field_value = pd.DataFrame([("received_at", 1796126405.2), ("24-hour window ends", "2026-12-01T12:00:05+00:00"),
                                ("text", "Hello!")], columns=["field", "value"])
    assert _cells(tables.show(field_value))[1::2] == [expected, expected, "Hello!"]


def test_show_marks_booleans_with_coloured_ticks():
    html = tables.show(pd.DataFrame({"active": [True, False]})).to_html()
    cells = _cells(tables.show(pd.DataFrame({"active": [True, False]})))
    assert cells == [tables.TRUE_MARK, tables.FALSE_MARK]
    assert tables.TRUE_COLOUR in html and tables.FALSE_COLOUR in html
    assert "True" not in html and "False" not in html


def test_show_escapes_html_in_values():
    assert "<b>x</b>" not in tables.show(pd.DataFrame({"a": ["<b>x</b>"]})).to_html()


def test_phone_numbers_compact_view_puts_readiness_after_the_number():
    styler = tables.style_phone_numbers(tables.phone_numbers_table(NUMBERS))
    headers = list(styler.data.columns)
    assert headers == list(tables.COMPACT_NUMBER_COLUMNS)
    assert headers.index("ready_to_register") < headers.index("name_status")
    every = list(tables.style_phone_numbers(tables.phone_numbers_table(NUMBERS), all_columns=True).data.columns)
    assert set(every) == set(tables.phone_numbers_table(NUMBERS).columns) and every[3] == "ready_to_register"


def test_error_block_reads_like_the_remedy_catalogue_and_leaves_out_empty_fields():
    error = {"code": 133005, "subcode": None, "title": "Two step verification PIN Mismatch",
             "message": "(#133005) Two step verification PIN Mismatch", "details": "Two-step verification PIN incorrect.",
             "fbtrace_id": "AbC", "remedy": "Use the PIN set for this number.", "http_status": 400}
    block = tables.error_block(error)
    assert list(block["field"]) == ["code", "title", "what Meta said", "details", "what to do", "fbtrace_id"]
    assert "None" not in tables.style_error(block).to_html()
    assert tables.failure_summary(error) == "(#133005) Two step verification PIN Mismatch"
    assert tables.failure_summary({"code": 100, "subcode": 33.0, "title": "Object not found"}) == "(#100/33) Object not found"
    assert tables.failure_summary({"type": "ConfigError", "message": "waba_id is empty"}) == "waba_id is empty"
