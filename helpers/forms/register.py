"""RegisterForm (notebook 08): the PIN (stored in the environment), the SMS code when one is needed, Register.

Before the attempt it warns that repeated wrong PINs lock the number (133008). After a 133005
(PIN mismatch), from this form or the cell, it offers "Set a new PIN": a PIN field and a button
that set the number's two-step PIN (POST /{PHONE_NUMBER_ID} {"pin"}) and then register with it.
"""
from __future__ import annotations

import os
from typing import Any, Callable

import ipywidgets as widgets

from .. import steps, validate
from ..errors import ConfigError
from ..i18n import N_, _
from .base import ERROR_COLOUR, OK_COLOUR, StepForm, escape_text, field

FIELDS = [field(n) for n in ("phone_number_id", "waba_id", "display_phone_number")] + [
    field("pin_env", required=True)] + [field(n) for n in ("verification_code", "data_localization_region", "token_env")]
PIN_WARNING = N_("⚠️ Each wrong PIN counts: after repeated wrong guesses Meta locks the number's two-step "
                 "verification (133008) for hours. If nobody knows the PIN, do not guess: set a new one.")
PIN_MISMATCH = 133005


class RegisterForm(StepForm):
    """Register the number: requests a code first when it is not verified, then registers with the PIN."""

    def __init__(self, step, on_run: Callable[[Any], Any] | None = None) -> None:
        super().__init__(step, FIELDS, on_run or steps.register, title=_("08 · Register the phone number"))
        warning = widgets.HTML(value=f'<span class="playbook-warning">{escape_text(_(PIN_WARNING))}</span>')
        warning.add_class("playbook-pin-warning")
        self.notes.children = (warning,)
        self.new_pin = widgets.Password(value="", description=_("New PIN (6 digits)"), continuous_update=False,
                                        placeholder=_("stored in ${env}, then cleared").format(
                                            env=step.params.get("pin_env")),
                                        style={"description_width": "14em"}, layout=widgets.Layout(width="44em"))
        self.new_pin.add_class("playbook-new-pin")
        self.new_pin.observe(self._new_pin_typed, names="value")
        self.new_pin_message = widgets.HTML(value="")
        self.new_pin_message.add_class("playbook-validation")
        self.new_pin_message.add_class("playbook-validation-new-pin")
        self.set_pin_button = widgets.Button(description=_("Set a new PIN"), button_style="warning", icon="key",
                                             tooltip=_("set the number's two-step PIN to this one, then register "
                                                       "with it"))
        self.set_pin_button.add_class("playbook-set-pin")
        self.set_pin_button.on_click(lambda _button: self.set_new_pin())
        self._new_pin_stored = False
        self.reset_pin = widgets.VBox([
            widgets.HTML(value=_("<b>Set a new PIN</b>: the number's two-step PIN is not the one given. Type a new "
                                 "6-digit PIN; the button sets it on the number, then registers with it.")),
            self.new_pin, self.new_pin_message, self.set_pin_button],
            layout=widgets.Layout(display="none"))
        self.reset_pin.add_class("playbook-reset-pin")
        self.children = (*self.children, self.reset_pin)
        if step.ran:  # built after a run (its cell re-run): offer what that run calls for
            self._step_ran(step.last_result, step.last_error)

    def values(self) -> dict[str, Any]:
        values = super().values()
        self.inputs["verification_code"].value = ""  # single-use: clear it once handed over
        return values

    def show_result(self, result: Any) -> None:
        error = self.step.record.get("error") or {}
        mismatch = self.error is not None and error.get("code") == PIN_MISMATCH
        if mismatch:
            self.reset_pin.layout.display = "flex"
        elif self.error is None and isinstance(result, dict) and result.get("ok"):
            self.reset_pin.layout.display = "none"

    def _new_pin_typed(self, change: dict) -> None:
        value = change["new"]
        if not value:
            return
        env = str(self.step.params.get("pin_env") or "")
        try:
            validate.pin(value, N_("the new PIN"))
            env = validate.env_name(env, "pin_env")
        except ConfigError as exc:
            self._new_pin_stored = False
            self._new_pin_note(_("{problem} Nothing was stored.").format(problem=exc), ERROR_COLOUR)
        else:
            os.environ[env] = value.strip()
            self._new_pin_stored = True
            self._new_pin_note(_("stored in ${env} for this kernel (the field was cleared); press Set a new "
                                 "PIN").format(env=env), OK_COLOUR)
        self.new_pin.value = ""  # never keep a secret in the widget

    def _new_pin_note(self, text: str, colour: str) -> None:
        self.new_pin_message.value = f'<span style="color:{colour}">{escape_text(text)}</span>'

    def set_new_pin(self) -> Any:
        """Set the typed PIN on the number (POST /{PHONE_NUMBER_ID} {"pin"}), then register with it."""
        if not self._new_pin_stored:
            self._new_pin_note(_("Type the new 6-digit PIN first (then Enter)."), ERROR_COLOUR)
            return None
        result = self.run_action(steps.set_new_pin_and_register)
        if self.error is None:
            self._new_pin_stored = False
            self._new_pin_note("", OK_COLOUR)
        return result
