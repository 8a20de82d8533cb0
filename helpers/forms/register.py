"""RegisterForm (notebook 08): the PIN (stored in the environment), the SMS code when one is needed, Register."""
from __future__ import annotations

from typing import Any, Callable

from ..parameters import field
from .base import StepForm

FIELDS = [field(n) for n in ("phone_number_id", "waba_id", "display_phone_number")] + [
    field("pin_env", required=True)] + [field(n) for n in ("verification_code", "data_localization_region", "token_env")]


class RegisterForm(StepForm):
    """Register the number: requests a code first when it is not verified, then registers with the PIN."""

    def __init__(self, step, on_run: Callable[[Any], Any] | None = None) -> None:
        if on_run is None:
            from ..steps import register as on_run
        super().__init__(step, FIELDS, on_run, title="08 · Register the phone number", run_label="Register")

    def values(self) -> dict[str, Any]:
        values = super().values()
        self.inputs["verification_code"].value = ""  # single-use: clear it once handed over
        return values
