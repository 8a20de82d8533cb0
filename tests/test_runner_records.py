"""What a batch leaves for a person to read, on the real step notebooks against the sandbox: each
record lists the Graph calls its step made (never a secret value, a curl line with $VARIABLEs),
each output notebook is numbered from 1, and summary.html says which batch, when, against what,
and links every cell to its notebook."""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from helpers.runner import run_batch
from helpers.records import GRAPH_CALL_FIELDS
from helpers.sandbox import Sandbox
from helpers.runner.notebooks import discover
from notebook_fixtures import find_secrets, secret_values

STEPS = discover()  # every step notebook runs for the customer

CUSTOMERS = Path(__file__).resolve().parent.parent / "customers"
# Steps whose action calls the Graph API in a headless sandbox run of customers/example.yaml.
CALLING_STEPS = {"01_assets", "03_access_token", "04_webhooks", "05_subscribe_waba", "06_phone_numbers",
                 "08_register", "10_send_test_message"}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    result = run_batch([str(CUSTOMERS / "example.yaml")], out=str(out), sandbox=True, workers=1, progress=False)
    assert result["passed"], result["table"].to_dict("records")
    folder = result["batch_dir"]
    records = {p.stem: json.loads(p.read_text()) for p in sorted((folder / "example").glob("[0-9]*.json"))}
    with Sandbox() as sandbox:  # the demo env's values are fixed: the batch's sandbox had the same
        secrets = secret_values(sandbox.demo_env())
    return {"dir": folder, "records": records, "secrets": secrets}


def test_every_record_lists_the_graph_calls_of_its_step(batch):
    records = batch["records"]
    assert len(records) == len(STEPS) and all(isinstance(r["graph_calls"], list) for r in records.values())
    assert {s for s, r in records.items() if r["graph_calls"]} >= CALLING_STEPS
    for step, record in records.items():
        for call in record["graph_calls"]:
            assert set(GRAPH_CALL_FIELDS) <= set(call), (step, call)
            assert call["path"].startswith("/v25.0/") and call["status"] == 200 and call["fbtrace_id"], (step, call)
            assert re.match(r'curl .*"Authorization: Bearer ([0-9]+\|)?\$[A-Z_]+"', call["curl"]), (step, call)
    register = next(c for c in records["08_register"]["graph_calls"] if c["path"].endswith("/register"))
    assert register["method"] == "POST" and '\\"pin\\": \\"$WHATSAPP_PIN\\"' in register["curl"]


def test_no_record_notebook_or_summary_holds_a_secret_value(batch):
    files = [p for p in batch["dir"].rglob("*") if p.is_file() and p.suffix in (".json", ".ipynb", ".html", ".csv")]
    assert len(files) >= 25
    leaks = {p.name: find_secrets(p.read_text(encoding="utf-8"), batch["secrets"]) for p in files}
    assert {name: found for name, found in leaks.items() if found} == {}


def test_the_output_notebook_shows_the_calls_below_the_result(batch):
    notebook = json.loads((batch["dir"] / "example" / "08_register.ipynb").read_text())
    shown = [o for c in notebook["cells"] for o in c.get("outputs", [])
             if "playbook-graph-calls" in "".join(o.get("data", {}).get("text/html", ""))]
    assert len(shown) == 1
    markup = "".join(shown[0]["data"]["text/html"])
    assert "3 Graph calls" in markup and "/v25.0/400000000000001/register" in markup and "$WHATSAPP_PIN" in markup


def test_every_output_notebook_numbers_its_cells_from_1(batch):
    for path in sorted((batch["dir"] / "example").glob("*.ipynb")):
        cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        numbers = [c["execution_count"] for c in cells]
        assert numbers == list(range(1, len(cells) + 1)), (path.name, numbers)
        results = [(c["execution_count"], o["execution_count"]) for c in cells for o in c["outputs"]
                   if o["output_type"] == "execute_result"]
        assert all(a == b for a, b in results), (path.name, results)


def test_summary_names_the_batch_links_each_cell_and_shows_verdicts(batch):
    folder = batch["dir"]
    text = (folder / "summary.html").read_text()
    asked = json.loads((folder / "batch.json").read_text())
    sandbox_url = json.loads((folder / "sandbox.json").read_text())["url"]
    assert asked["batch_id"] in text and asked["started_at"][:10] in text
    assert f"{sandbox_url} (the sandbox)" in text
    links = re.findall(r"href='([^']+)'", text)
    assert len(links) == len(STEPS) and all((folder / link).is_file() for link in links)
    assert "example/08_register.ipynb" in links
    assert ">skipped</a>" in text and ">passed</a>" in text
    for step in ("03_access_token", "08_register"):
        assert html.escape(batch["records"][step]["facts"]["verdict"]) in text
    head = re.search(r"<thead>(.*)</thead>", text).group(1)  # one header row, first the customer: no index
    assert head.count("<tr>") == 1 and "<th></th>" not in head and head.startswith("<tr><th class='fixed'>customer")
    table = pd.read_csv(folder / "summary.csv", dtype=str, keep_default_na=False)
    assert table.loc[0, "07_migration"] == "skipped" and table.loc[0, "status"] == "passed"
