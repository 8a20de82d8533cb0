"""A batch under Meta's transient faults (`run_batch(sandbox_faults=...)`): it passes after at most one
resume, and the sandbox's own ledger shows no write applied twice."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd

from helpers.runner import run_batch
from helpers.sandbox.fleet import write_fleet

# Writes that happen at most once per key in a customer's whole onboarding, resumes included.
ONCE = ("template_create", "message_send", "user_assign", "credit_share", "register")
FAULT_CODES = {1, 2, 131000, 130429}


def _ledger(batch_dir: Path) -> dict[str, dict[str, int]]:
    """The writes the sandbox applied, as saved with its state at the end of the batch."""
    state_path = Path(json.loads((batch_dir / "batch.json").read_text())["sandbox_state"])
    with sqlite3.connect(str(state_path)) as db:
        (data,) = db.execute("SELECT data FROM snapshot WHERE id = 1").fetchone()
    return json.loads(data).get("writes") or {}


def _faults_met(batch_dir: Path) -> list[dict]:
    """The Graph calls of every record that met an injected fault (an error code or no answer at all)."""
    met = []
    for path in batch_dir.glob("*/*.json"):
        for call in json.loads(path.read_text()).get("graph_calls") or []:
            if call.get("error_code") in FAULT_CODES or call.get("status") in (None, 0):
                met.append(call)
    return met


def test_a_batch_under_faults_passes_after_one_resume_with_no_write_doubled(tmp_path):
    seed, profiles = write_fleet(4, tmp_path / "fleet", templates=True)
    first = run_batch([str(p) for p in profiles], out=str(tmp_path / "runs"), sandbox=True, sandbox_seed=str(seed),
                      workers=2, progress=False, sandbox_faults=0.08, sandbox_faults_seed=3)
    asked = json.loads((first["batch_dir"] / "batch.json").read_text())
    assert asked["sandbox_faults"] == 0.08 and asked["sandbox_faults_seed"] == 3
    final = first
    if not first["passed"]:
        final = run_batch([], out=str(tmp_path / "runs"), sandbox=True, workers=2, progress=False,
                          resume=str(first["batch_dir"]), sandbox_faults=0.08, sandbox_faults_seed=4)
    table = pd.read_csv(final["batch_dir"] / "summary.csv", dtype=str, keep_default_na=False)
    assert final["passed"] is True, table.to_string()

    met = _faults_met(first["batch_dir"]) + _faults_met(final["batch_dir"])
    assert met, "the faults were on: some calls must have met one"
    writes = _ledger(Path(final["batch_dir"]))
    doubled = {kind: {k: n for k, n in (writes.get(kind) or {}).items() if n > 1} for kind in ONCE}
    assert doubled == {kind: {} for kind in ONCE}
    # Each customer's writes happened (once): one template, one test message, one registration each.
    for kind in ("template_create", "message_send", "register"):
        assert len(writes.get(kind) or {}) == 4, (kind, writes.get(kind))


def test_faults_need_the_embedded_sandbox_and_a_rate_between_0_and_1(tmp_path):
    import pytest

    from helpers.validate import ConfigError
    seed, profiles = write_fleet(1, tmp_path / "fleet")
    for kwargs, says in (({"sandbox": False, "sandbox_faults": 0.1}, "--sandbox"),
                         ({"sandbox": True, "sandbox_faults": 1.5}, "between 0 and 1")):
        with pytest.raises(ConfigError, match=says):
            run_batch([str(profiles[0])], out=str(tmp_path / "runs"), progress=False, **kwargs)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # nothing started
