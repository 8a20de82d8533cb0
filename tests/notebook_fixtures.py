"""Helpers for the notebook tests: run step notebooks under papermill as the batch runner does, scan for secrets."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, Mapping

import papermill

from helpers.processes import temporary_environ

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CUSTOMERS = ROOT / "customers"
STEP_NAMES = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]*_*.ipynb"))
# Env vars of the sandbox's demo environment that hold secrets (WHATSAPP_BACKUP_DATA is a parameter, not a secret).
NOT_SECRET = {"WHATSAPP_BACKUP_DATA"}


def ensure_venv_kernel() -> None:
    """Make sure the `python3` kernelspec papermill uses runs this interpreter's ipykernel."""
    from jupyter_client.kernelspec import KernelSpecManager

    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
        ours = Path(spec.resource_dir).resolve().is_relative_to(Path(sys.prefix).resolve()) or spec.argv[0] in (
            "python", "python3", sys.executable)
    except Exception:
        ours = False
    if not ours:
        from ipykernel.kernelspec import install
        install(prefix=sys.prefix)


def declared_parameters(name: str) -> dict[str, Any]:
    return papermill.inspect_notebook(str(NOTEBOOKS / f"{name}.ipynb"))


def execute_step(name: str, out_dir: Path, values: Mapping[str, Any]) -> tuple[dict[str, Any], Path, Exception | None]:
    """Execute one step notebook headless; returns (its JSON record, the output notebook, the execution error)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    declared = declared_parameters(name)
    params = {k: v for k, v in values.items() if k in declared}
    params.update(interactive=False, run_dir=str(out_dir))
    output = out_dir / f"{name}.ipynb"
    error: Exception | None = None
    try:
        papermill.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(output), parameters=params,
                                   kernel_name="python3", cwd=str(NOTEBOOKS), progress_bar=False,
                                   log_output=False, start_timeout=60, execution_timeout=120)
    except papermill.PapermillExecutionError as exc:
        error = exc
    record_path = out_dir / f"{name}.json"
    record = json.loads(record_path.read_text(encoding="utf-8")) if record_path.exists() else {}
    return record, output, error


def run_steps(names: list[str], out_dir: Path, values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Run steps in order, handing each step's outputs to the next, stopping at the first failure."""
    values = dict(values)
    records: dict[str, dict[str, Any]] = {}
    for name in names:
        record, _, error = execute_step(name, out_dir, values)
        records[name] = record
        if error is not None or record.get("status") != "passed":
            break
        values.update(record.get("outputs") or {})
    return records


def secret_values(env: Mapping[str, str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """name -> value of every secret in the sandbox's demo environment (plus extra ones)."""
    found = {k: v for k, v in env.items() if k not in NOT_SECRET and len(str(v)) >= 4}
    found.update(extra or {})
    return found


def find_secrets(text: str, secrets: Mapping[str, str]) -> list[str]:
    """Names of the secrets whose value occurs in text (digit-only values as whole numbers: not inside a longer
    number, nor the microseconds of a timestamp such as papermill's "12:34:56.905173")."""
    hits = []
    for name, value in secrets.items():
        value = str(value)
        if value.isdigit():
            if re.search(rf"(?<![\d.]){re.escape(value)}(?!\d)", text):
                hits.append(name)
        elif value in text:
            hits.append(name)
    return hits


environment = temporary_environ  # kernels started inside the block inherit the variables







def resumed_records(customer_dir: Path) -> tuple[dict[str, dict], list[str], list[str]]:
    """A resumed customer's records, and the steps carried over from the earlier batch and those that ran again."""
    records = {p.stem: json.loads(p.read_text()) for p in Path(customer_dir).glob("*.json")}
    carried = sorted(s for s, r in records.items() if r.get("carried_over_from"))
    ran = sorted(s for s, r in records.items() if not r.get("carried_over_from"))
    return records, carried, ran
