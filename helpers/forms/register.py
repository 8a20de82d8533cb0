"""RegisterForm (notebook 08): the PIN (stored in the environment), the SMS code when one is needed, Register."""
from __future__ import annotations

from typing import Any, Callable

from .base import Field, StepForm

FIELDS = [
    Field("phone_number_id", "Phone number ID", "id", placeholder="from 06_phone_numbers"),
    Field("waba_id", "WABA ID (to look it up)", "id"),
    Field("display_phone_number", "…by display number", "phone"),
    Field("pin_env", "Two-step PIN (6 digits)", "pin", required=True),
    Field("verification_code", "Code from the SMS", "code", placeholder="only when the number needs verifying"),
    Field("data_localization_region", "Local storage country", "region", placeholder="e.g. DE; empty: none"),
    Field("token_env", "Access token", "secret"),
]


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
