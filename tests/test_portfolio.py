"""The partner's portfolio view: `python -m helpers portfolio` and notebooks/portfolio.ipynb, against the sandbox."""
from __future__ import annotations

import logging
import subprocess
import sys

import pandas as pd
import papermill
import pytest

from helpers import cli, portfolio
from helpers.errors import ConfigError
from helpers.profiles import load_profile
from helpers.runner import preflight
from helpers.runner.notebooks import discover
from notebook_fixtures import CUSTOMERS, NOTEBOOKS, ROOT, ensure_venv_kernel, find_secrets, secret_values
from sandbox_fixtures import EXAMPLE_BUSINESS, EXAMPLE_WABA, MARKETING_WABA

CLIENTS = {"200000000000004": "Coral Dental GmbH", "200000000000005": "Harbor Bikes LLC",
           "200000000000006": "Juniper Books Ltd", "200000000000007": "Lumen Yoga Studio",
           "200000000000008": "Mesa Grill Inc", "200000000000009": "Nimbus Travel SA",
           "200000000000010": "Osprey Analytics Ltd"}
OWNED = [EXAMPLE_WABA, MARKETING_WABA]
NEW_CLIENTS = ["harbor-bikes", "juniper-books", "lumen-yoga-studio", "mesa-grill", "nimbus-travel", "osprey-analytics"]


def run_cli(*args: str) -> int:
    return cli.main(["portfolio", *args])


def by_number(table: pd.DataFrame) -> dict[str, dict]:
    return {row["phone_number_id"]: row for row in table.fillna("").to_dict("records")}


@pytest.fixture
def page_requests(caplog):
    """The sandbox's own log of the requests it served: path -> how many times."""
    caplog.set_level(logging.DEBUG, logger="helpers.sandbox")

    def count(suffix: str) -> int:
        return sum(1 for r in caplog.records if r.name == "helpers.sandbox" and r.getMessage().endswith(suffix))
    return count


def test_the_seed_partners_whole_book_with_every_page_followed(sb, graph, tmp_path, page_requests, capsys):
    out = tmp_path / "out"
    assert run_cli("--business-id", EXAMPLE_BUSINESS, "--graph-url", sb.url, "--out", str(out), "--page-size", "2") == 0
    printed = capsys.readouterr()
    assert "portfolio.html" in printed.out and "portfolio:" in printed.err  # the table on stdout, progress on stderr
    # Seven client WABAs at two a page: four pages of the client listing, each requested of the sandbox.
    assert page_requests(f"/{EXAMPLE_BUSINESS}/client_whatsapp_business_accounts") >= 3
    assert page_requests("/200000000000009/phone_numbers") >= 2   # Nimbus's four numbers: two pages

    table = pd.read_csv(out / "portfolio.csv", dtype=str, keep_default_na=False)
    assert list(table.columns) == portfolio.COLUMNS
    assert set(table["waba_id"]) == set(CLIENTS) | set(OWNED)
    assert set(table.loc[table["relation"] == "client", "waba_id"]) == set(CLIENTS)
    for waba_id, name in CLIENTS.items():  # every number of every client WABA, as the Graph API lists them
        numbers = {n["id"] for n in graph.get(f"{waba_id}/phone_numbers", params={"limit": 100}).json()["data"]}
        assert set(table.loc[table["waba_id"] == waba_id, "phone_number_id"]) == (numbers or {""})
        assert set(table.loc[table["waba_id"] == waba_id, "business"]) == {name}

    rows = by_number(table)
    live = rows["400000000000051"]
    assert (live["readiness"], live["registered"], live["webhook_subscribed"], live["credit_line_attached"],
            live["templates_approved"], live["can_send_message"], live["messaging_limit"]) == (
        "ready", "True", "True", "True", "2", "AVAILABLE", "TIER_10K")
    unregistered = rows["400000000000061"]
    assert (unregistered["readiness"], unregistered["registered"], unregistered["blocking_entity"],
            unregistered["health_code"]) == ("blocked", "False", "PHONE_NUMBER 400000000000061", "133010")
    assert "register" in unregistered["possible_solution"]
    no_credit = rows["400000000000071"]
    assert (no_credit["credit_line_attached"], no_credit["can_send_message"], no_credit["blocking_entity"],
            no_credit["readiness"], no_credit["health_code"]) == ("False", "BLOCKED", "WABA 200000000000007", "blocked",
                                                                  "141006")
    assert "no credit line attached" in no_credit["problems"] and "payment method" in no_credit["possible_solution"]
    red = rows["400000000000081"]
    assert (red["quality"], red["status"], red["registered"], red["readiness"]) == ("RED", "FLAGGED", "True", "limited")
    assert "weekend_specials paused" in red["templates_other"] and "table_ready rejected" in red["templates_other"]
    nimbus = table[table["waba_id"] == "200000000000009"]
    assert len(nimbus) == 4 and set(nimbus["webhook_subscribed"]) == {"False"}
    assert rows["400000000000093"]["health_code"] == "131031" and rows["400000000000093"]["readiness"] == "blocked"
    assert rows["400000000000092"]["name_status"] == "PENDING_REVIEW"
    (no_number,) = table[table["waba_id"] == "200000000000010"].to_dict("records")  # a WABA without numbers: one row
    assert (no_number["readiness"], no_number["can_send_message"], no_number["credit_line_attached"]) == (
        "not ready", "AVAILABLE", "True")
    assert no_number["problems"] == "no phone number"
    # Owned WABAs pay their own way: no credit line verdict; Coral's rows name the profile that covers it.
    assert set(table.loc[table["relation"] == "owned", "waba_id"]) == set(OWNED)
    assert set(table.loc[table["relation"] == "owned", "credit_line_attached"]) == {""}
    assert set(table.loc[table["waba_id"] == "200000000000004", "profile"]) == {str(CUSTOMERS / "coral.yaml")}
    assert set(table.loc[table["waba_id"] == "200000000000005", "profile"]) == {""}

    page = (out / "portfolio.html").read_text(encoding="utf-8")
    assert "✓" in page and "✗" in page and "#f8d7da" in page and "#d4edda" in page and "#fff3cd" in page
    assert "nan" not in page and "None" not in page and "<th class=\"blank" not in page  # no index, blanks blank
    assert "Harbor Bikes" in page and "9 WABAs (7 client, 2 owned), 19 numbers" in page


def test_a_graph_error_on_one_waba_stays_in_its_row(sb, tmp_path, capsys):
    # An employee system user of the partner: it lists the portfolio but is assigned only the marketing WABA.
    assert run_cli("--business-id", EXAMPLE_BUSINESS, "--graph-url", sb.url, "--out", str(tmp_path),
                   "--token-env", "WHATSAPP_OTHER_WABA_TOKEN") == 0
    table = pd.read_csv(tmp_path / "portfolio.csv", dtype=str, keep_default_na=False)
    errors = table[table["readiness"] == "error"]
    assert set(errors["waba_id"]) == set(CLIENTS) | {EXAMPLE_WABA}
    assert set(errors["health_code"]) == {"100/33"} and errors["problems"].str.contains("Graph error 100/33").all()
    assert set(table.loc[table["waba_id"] == MARKETING_WABA, "readiness"]) == {"not ready"}  # read, not subscribed
    assert len(errors) == len(errors["waba_id"].unique())  # one row per unreadable WABA
    assert set(table.loc[table["waba_id"] == MARKETING_WABA, "templates_approved"]) == {"1"}  # a count, not 1.0
    page = (tmp_path / "portfolio.html").read_text(encoding="utf-8")
    assert "Graph error 100/33" in page and "nan" not in page and "&lt;NA&gt;" not in page


def test_write_profiles_writes_loadable_profiles_keeps_existing_ones_and_one_runs(sb, tmp_path, capsys):
    folder = tmp_path / "customers"
    folder.mkdir()
    kept = folder / "mesa-grill.yaml"  # a file of the same name, about something else: never overwritten
    kept.write_text("customer: mesa-grill\nnotes: written by hand\n", encoding="utf-8")
    args = ("--business-id", EXAMPLE_BUSINESS, "--graph-url", sb.url, "--out", str(tmp_path / "out"),
            "--write-profiles", str(folder))
    assert run_cli(*args) == 0
    written = sorted(p.stem for p in folder.glob("*.yaml"))
    # Not coral or example (customers/ covers them); Mesa's name was taken, so its WABA ID's last digits tell it apart.
    assert written == sorted({*NEW_CLIENTS, "mesa-grill-0008", "example-co-marketing"})
    assert kept.read_text(encoding="utf-8") == "customer: mesa-grill\nnotes: written by hand\n"
    harbor = load_profile(folder / "harbor-bikes.yaml")
    assert harbor == {**harbor, "customer": "harbor-bikes", "business_id": "100000000000005",
                      "waba_id": "200000000000005", "app_id": "300000000000001", "phone_number_id": "400000000000051",
                      "display_phone_number": "+1 555-010-0051", "token_env": "WHATSAPP_TOKEN",
                      "pin_env": "HARBOR_BIKES_PIN", "app_secret_env": "WHATSAPP_APP_SECRET",
                      "verify_token_env": "WHATSAPP_VERIFY_TOKEN"}
    assert load_profile(folder / "nimbus-travel.yaml")["phone_number_id"] == "400000000000091"  # its first number
    assert "phone_number_id" not in load_profile(folder / "osprey-analytics.yaml")  # no number yet: 06 will say so
    texts = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.yaml")}
    for value in secret_values(sb.demo_env()).values():
        assert not any(value in text for text in texts.values())
    assert load_profile(folder / "mesa-grill-0008.yaml")["waba_id"] == "200000000000008"
    paths = [str(folder / f"{name}.yaml") for name in [*NEW_CLIENTS, "mesa-grill-0008"]
             if name not in ("mesa-grill", "osprey-analytics")]
    checked = preflight.run(paths, steps="00-06", sandbox=True)
    assert checked.ok, checked.problems

    capsys.readouterr()
    assert run_cli(*args) == 0  # again: everything is covered now, nothing is rewritten
    assert "wrote" not in capsys.readouterr().out
    assert {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.yaml")} == texts

    runs = tmp_path / "runs"
    done = subprocess.run([sys.executable, "-m", "helpers", "run", str(folder / "harbor-bikes.yaml"), "--sandbox",
                           "--steps", "00-06", "--out", str(runs)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (summary,) = runs.glob("*/summary.csv")
    assert pd.read_csv(summary)["status"].tolist() == ["passed"]


def test_the_notebook_headless(sb, tmp_path):
    ensure_venv_kernel()
    output = tmp_path / "portfolio.ipynb"
    papermill.execute_notebook(str(NOTEBOOKS / "portfolio.ipynb"), str(output), kernel_name="python3",
                               cwd=str(NOTEBOOKS), progress_bar=False, log_output=False, start_timeout=60,
                               execution_timeout=120,
                               parameters={"business_id": EXAMPLE_BUSINESS, "graph_url": sb.url, "page_size": 2,
                                           "out_dir": str(tmp_path / "out"), "profiles_dir": str(tmp_path / "profiles")})
    table = pd.read_csv(tmp_path / "out" / "portfolio.csv", dtype=str, keep_default_na=False)
    assert set(table.loc[table["relation"] == "client", "waba_id"]) == set(CLIENTS)
    assert (tmp_path / "out" / "portfolio.html").is_file()
    assert sorted(p.stem for p in (tmp_path / "profiles").glob("*.yaml")) == sorted({*NEW_CLIENTS, "example-co-marketing"})
    executed = output.read_text(encoding="utf-8")
    assert "Lumen Yoga" in executed and "harbor-bikes.yaml" in executed
    assert find_secrets(executed, secret_values(sb.demo_env())) == []
    # Not a step: the batch runner never picks it up.
    assert "portfolio" not in [p.stem for p in discover()]


@pytest.mark.parametrize("args, message", [
    (("--business-id", "12ab"), "--business-id must be digits only"),
    ((), "--business-id is required"),
    (("--business-id", EXAMPLE_BUSINESS, "--page-size", "101"), "page size must be a whole number from 1 to 100"),
    (("--business-id", EXAMPLE_BUSINESS, "--token-env", "PORTFOLIO_UNSET_TOKEN"), "PORTFOLIO_UNSET_TOKEN is not set"),
    (("--business-id", EXAMPLE_BUSINESS, "--sandbox-seed", "seed.yaml"), "add --sandbox"),
])
def test_bad_input_is_refused_before_any_network_call(scripted, tmp_path, capsys, args, message):
    assert run_cli(*args, "--graph-url", scripted.url, "--out", str(tmp_path / "out")) == 2
    assert message in capsys.readouterr().err
    assert scripted.seen == [] and not (tmp_path / "out").exists()


def test_the_notebook_view_checks_its_inputs_first(scripted, monkeypatch):
    monkeypatch.setenv("WHATSAPP_TOKEN", "a-token-that-is-never-sent")
    for bad, message in (({"business_id": ""}, "business_id is empty"), ({"business_id": "x1"}, "digits only"),
                         ({"out_dir": ""}, "out_dir is empty"), ({"page_size": -1}, "page size")):
        values = {"business_id": EXAMPLE_BUSINESS, "graph_url": scripted.url, "api_version": "v25.0",
                  "token_env": "WHATSAPP_TOKEN", "out_dir": "unused", **bad}
        with pytest.raises(ConfigError, match=message):
            portfolio.notebook_view(**values)
    assert scripted.seen == []


def test_slugs_drop_the_legal_form():
    assert portfolio.slug("Harbor Bikes LLC", "x") == "harbor-bikes"
    assert portfolio.slug("Coral Dental GmbH", "x") == "coral-dental"
    assert portfolio.slug("Ünïcode & Co.", "waba-1") == "unicode"
    assert portfolio.slug("", "waba-200000000000009") == "waba-200000000000009"


def test_a_token_of_another_business_is_told_why_and_what_to_do(sb, tmp_path, capsys):
    assert run_cli("--business-id", EXAMPLE_BUSINESS, "--graph-url", sb.url, "--out", str(tmp_path / "out"),
                   "--token-env", "BLUEFIN_TOKEN") == 1
    err = capsys.readouterr().err
    assert "error:" in err and "What to do:" in err
    assert sb.demo_env()["BLUEFIN_TOKEN"] not in err
