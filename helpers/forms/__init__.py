"""ipywidgets forms for the step notebooks (shown only when `interactive` is True).

>>> form = forms.for_step(step)      # prefilled from step.params; Run runs the step's action
>>> display(form)
"""
from __future__ import annotations

from typing import Any, Callable

from .. import steps
from ..i18n import _
from .base import Field, StepForm, check_secret, check_value
from .phone_numbers import PhoneNumbersForm
from .register import RegisterForm
from .specs import STEP_FIELDS

FORM_CLASSES = {"06_phone_numbers": PhoneNumbersForm, "08_register": RegisterForm}


def for_step(step, on_run: Callable[[Any], Any] | None = None) -> StepForm:
    """The form for this step: its own class where it has one, else a StepForm from STEP_FIELDS."""
    if step.name in FORM_CLASSES:
        return FORM_CLASSES[step.name](step, on_run)
    action = on_run or getattr(steps, step.name.split("_", 1)[1])
    return StepForm(step, STEP_FIELDS[step.name], action, title=f"{step.name} · {_(step.spec.title)}")


__all__ = ["Field", "StepForm", "PhoneNumbersForm", "RegisterForm", "STEP_FIELDS", "for_step", "check_value",
           "check_secret"]
