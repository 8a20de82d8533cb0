"""What the step actions share: the `step_action` mark, the number to work on, the API's clock and
where the step's webhook store is.
"""
from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any, Callable


from ... import operations as ops
from ...webhooks.local_receiver import LOCAL_RUNS
from ..step import Step

# Phone number fields the steps read and show (readiness columns, 2FA, coexistence, onboarding time).
NUMBER_FIELDS = ("id", "display_phone_number", "verified_name", "code_verification_status", "quality_rating",
                 "platform_type", "throughput", "status", "name_status", "new_name_status", "account_mode",
                 "is_pin_enabled", "is_on_biz_app", "last_onboarded_time")


# ---- shared lookups ---------------------------------------------------------------------------
def resolve_phone_number(step: Step) -> dict[str, Any]:
    """The number to work on: by phone_number_id, else found in the WABA by display_phone_number."""
    if step.params.get("phone_number_id"):
        number = ops.get_phone_number(step.client, step.params["phone_number_id"], fields=NUMBER_FIELDS)
    else:
        waba_id, display = step.require("waba_id", "display_phone_number")
        numbers = ops.list_phone_numbers(step.client, waba_id, fields=NUMBER_FIELDS)
        number = ops.find_phone_number(numbers, display_phone_number=display)
    step.output(phone_number_id=str(number["id"]))
    return number


def phone_number_id(step: Step) -> str:
    """The number's ID: phone_number_id when given (no call), else found in the WABA as resolve_phone_number does."""
    return str(step.params.get("phone_number_id") or resolve_phone_number(step)["id"])


def now_epoch(step: Step) -> float:
    """Now on the clock that timestamps the messages: the peer's (an emulator's clock), else this machine's."""
    try:
        now = step.peer.now()
    except Exception:  # its clock unreachable: this machine's is the best guess for the window
        now = None
    return float(now) if now is not None else time.time()


def step_action(func: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Marks a step's action function: a new run of it starts clean (an earlier failure is forgotten)."""

    @functools.wraps(func)
    def run(step: Step, *args: Any, **kwargs: Any) -> dict[str, Any]:
        step.retry()
        return func(step, *args, **kwargs)
    return run


def default_webhook_db(step: Step) -> Path:
    run_dir = step.params.get("run_dir")
    base = Path(run_dir) if run_dir else LOCAL_RUNS / step.customer
    return base / "webhooks.sqlite"


def webhook_db_path(step: Step) -> Path:
    return Path(step.params["webhook_db"]) if step.params.get("webhook_db") else default_webhook_db(step)
