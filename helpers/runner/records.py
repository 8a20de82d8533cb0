"""Run records: the JSON each step writes next to its output notebook, and the runner's own.

A step notebook writes `{run_dir}/{stem}.json` itself (see helpers.steps). The runner writes
one when the notebook could not (a timeout, a dead kernel, a crash before the record).
"""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

PASSED, FAILED, TIMEOUT, NOT_RUN, SKIPPED = "passed", "failed", "timeout", "not run", "skipped"


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write(path: Path, record: dict[str, Any]) -> None:
    """Atomic write: a reader never sees half a record."""
    path = Path(path)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def failure(step: str, customer: str, status: str, error_type: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"step": step, "customer": customer, "status": status, "started_at": extra.pop("started_at", None),
            "finished_at": now_iso(), "duration_s": extra.pop("duration_s", None), "outputs": {}, "facts": {},
            "error": {"type": error_type, "message": message}, **extra}
