"""Run records: the JSON each step writes next to its output notebook, and the runner's own.

The one place that knows a record's shape (`new`, `failure`, `not_run`), writes it (`write`:
atomic, secrets redacted) and reads it. A step notebook writes `{run_dir}/{stem}.json` through
helpers.steps; the runner writes one when the notebook could not (a timeout, a dead kernel, a
crash before the record). Stdlib only: the step kernels import it.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

from .secrets_scan import redact

PASSED, FAILED, TIMEOUT, NOT_RUN, RUNNING = "passed", "failed", "timeout", "not run", "running"

# One entry of a record's "graph_calls" (helpers.call_log builds them; no secret value, `curl` refers
# to each secret as $ENV_NAME): method and path (with the IDs), query (secrets as $NAME), HTTP status
# (None when no answer came; then "error" names the network failure), ms, fbtrace_id, error_code
# ("code" or "code/subcode" of a Graph error), curl.
GRAPH_CALL_FIELDS = ("method", "path", "query", "status", "ms", "fbtrace_id", "error_code", "curl")

# Each step's write journal (helpers.steps.journal) lives here, beside the records, not among them:
# `<customer>/*.json` stays one record per step.
JOURNAL_DIR = "journal"


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def new(step: str, customer: str, *, status: str = RUNNING, started_at: str | None = None,
        **extra: Any) -> dict[str, Any]:
    """A record with every field of the schema; `extra` adds fields (graph_url, api_version, ...)."""
    return {"step": step, "customer": customer, "status": status, "started_at": started_at,
            "finished_at": None, "duration_s": None, "outputs": {}, "facts": {}, "error": None, "graph_calls": [],
            **extra}


def failure(step: str, customer: str, status: str, error_type: str, message: str, **extra: Any) -> dict[str, Any]:
    record = new(step, customer, status=status, started_at=extra.pop("started_at", None))
    record.update(finished_at=now_iso(), duration_s=extra.pop("duration_s", None),
                  error={"type": error_type, "message": message}, **extra)
    return record


def not_run(step: str, customer: str) -> dict[str, Any]:
    return new(step, customer, status=NOT_RUN)


def read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def dumps(record: dict[str, Any], secrets: Iterable[str] = (), default: Callable[[Any], Any] = str) -> str:
    """The record as JSON text with the secrets' values replaced by *** (boundary-aware: IDs survive)."""
    return redact(json.dumps(record, indent=2, default=default, ensure_ascii=False), secrets)


def write(path: Path, record: dict[str, Any], secrets: Iterable[str] = (),
          default: Callable[[Any], Any] = str) -> Path:
    """Atomic write: a reader never sees half a record, and a concurrent writer never shares our temp file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = dumps(record, secrets, default)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would differ from every other file in the run folder
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
