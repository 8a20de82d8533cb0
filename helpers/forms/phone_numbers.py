"""PhoneNumbersForm (notebook 06): list the WABA's numbers, then pick the one to onboard from a dropdown."""
from __future__ import annotations

from typing import Any, Callable

import ipywidgets as widgets

from .. import steps
from ..i18n import _
from .base import StepForm, field

FIELDS = [field("waba_id", required=True)] + [field(n) for n in ("display_phone_number", "phone_number_id", "token_env")]


class PhoneNumbersForm(StepForm):
    """WABA ID → Run shows every number (compact readiness view; "All columns" shows the rest); the dropdown picks one."""

    def __init__(self, step, on_run: Callable[[Any], Any] | None = None) -> None:
        super().__init__(step, FIELDS, on_run or steps.phone_numbers, title=_("06 · Phone numbers of the WABA"))
        self.all_columns = widgets.ToggleButton(value=bool(step.params.get("show_all_columns")),
                                                description=_("All columns"), icon="table",
                                                tooltip=_("show every column of the numbers table"))
        self.all_columns.add_class("playbook-all-columns")
        self.all_columns.observe(self._toggle_columns, names="value")
        self.picker = widgets.Dropdown(options=[], description=_("Onboard"), style={"description_width": "14em"},
                                       layout=widgets.Layout(width="44em", display="none"))
        self.picker.add_class("playbook-pick-number")
        self.picker.observe(self._picked, names="value")
        self.children = (*self.children, widgets.HBox([self.all_columns]), self.picker)

    def _toggle_columns(self, change: dict) -> None:
        self.step.params["show_all_columns"] = bool(change["new"])
        if self.step.ran:
            self.step.show_result()  # redraw the same result, in the same area

    def show_result(self, result: Any) -> None:
        if not isinstance(result, dict) or result.get("numbers") is None:
            return
        table = result["numbers"]
        options = [(f"{row.display_phone_number} · {row.phone_number_id} · {row.status}", row.phone_number_id)
                   for row in table.itertuples()]
        picked = result.get("picked")
        self.picker.unobserve(self._picked, names="value")
        self.picker.options = options
        self.picker.value = str(picked["id"]) if picked else None
        self.picker.observe(self._picked, names="value")
        self.picker.layout.display = "flex" if options else "none"

    def _picked(self, change: dict) -> None:
        phone_number_id = change["new"]
        if not phone_number_id:
            return
        self.step.update(phone_number_id=phone_number_id)
        self.step.output(phone_number_id=phone_number_id)
        self.inputs["phone_number_id"].value = phone_number_id
        self._summary(_("Picked phone number ID {phone_number_id}; run the cells below (or 08) next.").format(
            phone_number_id=phone_number_id), "inherit")
