"""How a step's failure reads: the Terms-of-Service diagnosis, the remedy for any failure, the
error as a (field, value) table, and the IPython handler that shows a PlaybookError as the step's
short block instead of a traceback.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

import pandas as pd
from IPython import get_ipython

from .. import tables
from ..errors import GraphAPIError, PlaybookError
from ..i18n import N_, _
from ..remedies import remedy_text


def terms_not_accepted(error: Any) -> bool:
    """True when an error (GraphAPIError or its record) says the Terms of Service are not accepted."""
    if isinstance(error, GraphAPIError):
        error = error.to_record() | {"error_user_msg": error.error_user_msg}
    if not isinstance(error, Mapping):
        return False
    text = " ".join(str(error.get(k) or "") for k in ("message", "details", "error_user_msg", "title"))
    return bool(re.search(r"terms of service|terms and conditions", text, re.I))


TERMS_REMEDY = N_("The business has not accepted the WhatsApp Business Platform Terms of Service. The developer "
                  "accepts them in WhatsApp Manager (the banner at the top; Business settings shows it too); a "
                  "partner's customers need not. Then run 08_register again. See 02_terms.")  # shown with _()


def remedy_for(exc: BaseException | None, error: Mapping[str, Any], where: str) -> str:
    """The plain-language remedy for a failure: the exception's own, else the catalogue's for its type."""
    if isinstance(exc, PlaybookError):
        return exc.remedy_for(where)
    return remedy_text(error.get("type") or (type(exc).__name__ if exc is not None else None), where=where)


# The step whose failures the notebook's custom exception handler shows (the latest Step in this kernel).
_CURRENT: list[Any] = []


def install_failure_display(step: Any) -> None:
    """In IPython, show a PlaybookError as the step's short block instead of a traceback through helpers/.

    The cell still fails (papermill marks the step failed, and its CLI ends with the block's last
    line); the full traceback stays in the record.
    """
    _CURRENT[:] = [step]
    shell = get_ipython()
    if shell is None or getattr(shell, "_playbook_handler", False):
        return

    def show(shell, etype, value, tb, tb_offset=None):
        current = _CURRENT[0] if _CURRENT else None
        if current is None:
            return [f"{etype.__name__}: {getattr(value, 'reason', value)}"]
        if not getattr(value, "_playbook_recorded", False) and current.record["status"] == "running":
            current.record_failure(value, _("the step"))  # raised outside step.action (e.g. step.require): record it now
        lines = current.failure_block(value)
        if getattr(value, "_playbook_earlier", False):
            lines = lines[-1:]  # the verdict cell after a failed action: its block is shown above
        shell._showtraceback(etype, value, lines)  # the error output (and the reply papermill reads)
        return lines

    shell.set_custom_exc((PlaybookError,), show)
    shell._playbook_handler = True


def error_frame(exc: BaseException, error: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """A failure as a (field, value) table: Graph errors with Meta's fields and the remedy."""
    if isinstance(exc, GraphAPIError):
        frame = tables.error_table(exc)
        if error and error.get("remedy") and error["remedy"] != exc.remedy:
            frame.loc[frame["field"] == "remedy", "value"] = error["remedy"]
        return frame
    error = dict(error or {"type": type(exc).__name__, "message": getattr(exc, "reason", None) or str(exc)})
    error.pop("action", None)
    error.pop("traceback", None)  # the record keeps it; the notebook shows what to do
    error.setdefault("remedy", remedy_for(exc, error, "shell"))
    return pd.DataFrame(list(error.items()), columns=["field", "value"])
