"""The training page of notebooks/training/scenarios.ipynb: pick one scenario, Break it, then do the step
through its form. Nothing runs on open.
"""
from __future__ import annotations

from typing import Any

import ipywidgets as widgets
from IPython.display import display

from ..i18n import _
from ..sandbox.scenarios import catalogue as scenario_files
from .catalogue import drill_specs, scenario_texts
from .drill import Drill, Drills, as_html


class TrainingPage:
    """The training page: pick one scenario, Break it, then do the step through its form. Nothing runs on open.

    >>> TrainingPage().show()       # in notebooks/training/scenarios.ipynb
    """

    def __init__(self, **drills_args: Any) -> None:

        self.drills = Drills(**drills_args)

        catalogue, specs, files = Drills.catalogue(), drill_specs(), scenario_files()
        options = [(_("{title} · step {number}").format(
                        title=scenario_texts(scenario, files.get(name, scenario))["title"],
                        number=specs[name].step.split("_", 1)[0]), name)
                   for name, scenario in catalogue.items()]
        self.picker = widgets.Dropdown(options=options, value=None, description=_("Scenario"),
                                       style={"description_width": "6em"}, layout=widgets.Layout(width="44em"))
        self.picker.add_class("playbook-scenario")
        self.break_button = widgets.Button(description=_("Break it"), button_style="warning", icon="bolt",
                                           tooltip=_("the sandbox resets, then breaks what the scenario says"),
                                           disabled=True)
        self.break_button.add_class("playbook-break")
        self.picker.observe(lambda change: setattr(self.break_button, "disabled", change["new"] is None), names="value")
        self.break_button.on_click(lambda _b: self.break_it())
        self.note = widgets.HTML(_("Pick a scenario, then press <b>Break it</b>. <i>Breaking a scenario resets the "
                                   "whole sandbox: what the step pages did starts over.</i>"))
        self.area = widgets.VBox([])
        self.area.add_class("playbook-drill-area")
        self.drill: Drill | None = None
        self.widget = widgets.VBox([widgets.HBox([self.picker, self.break_button]), self.note, self.area])
        self.widget.add_class("playbook-training")

    def break_it(self, name: str | None = None) -> Drill | None:

        name = name or self.picker.value
        self.area.children = ()
        try:
            self.drill = self.drills.start(name)
        except Exception as exc:  # shown on the page: a button callback's exception would reach no one
            self.drill = None
            self.area.children = (widgets.HTML('<span style="color:#b00020">' + _("Could not break {name}: {error}")
                                               .format(name=as_html(name), error=as_html(exc)) + "</span>"),)
            return None
        self.area.children = (self.drill.panel,)
        return self.drill

    def show(self) -> None:
        display(self.widget)

    def _ipython_display_(self) -> None:
        self.show()
