"""Which drills there are: the built-in ones (helpers.training.drills), then one per replayed failure in
PLAYBOOK_DRILLS_DIR (helpers.training.replay), and their titles as the page shows them.
"""
from __future__ import annotations

from typing import Any

from ..i18n import _
from ..sandbox.scenarios import catalogue
from .drills import DRILLS, DrillSpec
from .replay import replayed_spec, replayed_texts


def drill_specs() -> dict[str, DrillSpec]:
    """The built-in drills, then one per replayed failure in PLAYBOOK_DRILLS_DIR (helpers.training.replay)."""

    specs = dict(DRILLS)
    for name, scenario in catalogue().items():
        if name not in specs and scenario.get("replayed_from"):
            try:
                specs[name] = replayed_spec(scenario)
            except (KeyError, TypeError, ValueError):
                continue  # a hand-edited file that says too little is not listed, the others are
    return specs


def scenario_texts(scenario: dict[str, Any], raw: dict[str, Any] | None = None) -> dict[str, str]:
    """The scenario's title and description as the page shows them, in the reader's language.

    A replayed scenario's are rebuilt from what its file records (helpers.training.replay.replayed_texts: its YAML
    holds the words of whoever wrote it); a built-in one's go through the catalogue. `raw`: the scenario as
    its file holds it (the sandbox's description of a scenario leaves out replayed_from); read when not given.
    """
    if raw is None:

        raw = catalogue().get(str(scenario.get("name"))) or scenario
    if raw.get("replayed_from"):

        try:
            return replayed_texts(raw)
        except (KeyError, TypeError, ValueError):
            pass  # a hand-edited file: its own words
    return {"title": _(str(scenario.get("title") or "")), "description": _(str(scenario.get("description") or ""))}
