"""The training drills of notebooks/training/scenarios.ipynb, one per sandbox scenario (the DRILLS table).

The trainee picks one scenario and presses Break it (the sandbox breaks one thing); then does the step
through that step's own form: Run meets the error (with its remedy, in the form), the fix goes into the
form (the right PIN, a new token, the right URL) or, where the fix is on Meta's side, a "Fix it" button
stands in for WhatsApp Manager, Business settings, the phone or the clock; Run again passes. Nothing
runs until a button is pressed. Each drill writes a record to run_dir/training/<scenario>.json.

The modules, each standing on the ones after it:

    page       TrainingPage: the scenario picker, Break it, the drill's panel
    drill      Drills (the sandbox, the training profile, the records) and Drill (one scenario, broken)
    catalogue  which drills there are: the built-in ones, then the replayed failures
    replay     `python -m helpers drill from-run`: a failed run's records as a sandbox scenario
    drills     the drill table (DRILLS, FAULT_DRILLS) and the setups and fixes the drills use

    >>> page = TrainingPage()             # inside `make lab`/`make voila`: every argument from the lab
    >>> drill = Drills().start("wrong_pin"); drill.form.run_button.click()   # headless, as the tests do
"""
from __future__ import annotations

from .catalogue import drill_specs, scenario_texts
from .drill import Drill, Drills
from .drills import (CORRECTED_TEMPLATE_BODY, DRILLS, FAULT_DRILLS, LIVE_NUMBER, NUMBER_ID, PARTNER_BUSINESS, RIGHT_PIN,
                     STEP_SETUPS, TEST_NUMBER, DrillSpec, FormFix, MetaFix)
from .page import TrainingPage

__all__ = ["TrainingPage", "Drills", "Drill", "drill_specs", "scenario_texts", "DRILLS", "FAULT_DRILLS", "STEP_SETUPS",
           "DrillSpec", "FormFix", "MetaFix", "NUMBER_ID", "LIVE_NUMBER", "TEST_NUMBER", "RIGHT_PIN", "PARTNER_BUSINESS",
           "CORRECTED_TEMPLATE_BODY"]
