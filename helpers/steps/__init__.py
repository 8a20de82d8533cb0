"""The glue between a step notebook and the library: parameters, validation, actions, records.

Each notebook starts with::

    step = Step.start("06_phone_numbers", globals())

which reads the notebook's parameters, fills the ones left at their defaults from the customer
profile (then from earlier steps' records in `run_dir`, then from `PLAYBOOK_*` environment
variables), validates them before any network call, and builds `step.client` on first use.
The action cell is ``result = step.run(steps.phone_numbers)``: the result (or the failure's error
block) is shown once, in the step's result area, which the form's Run redraws. Inside an action,
``with step.action("list numbers"):`` records a failure and re-raises it (headless, papermill then
marks the notebook failed). The last cell calls ``step.finish()``, which asserts the last run
succeeded and writes the "passed" record.

The per-step functions (`plan`, `assets`, ..., `send_test_message`, in `actions`) hold each
step's logic; notebooks and the forms' Run buttons call the same function.

The modules:

    step      `Step` (parameters, client, actions, result records) and `clean_params`
    failures  how a failure reads: its remedy, the error table, the IPython handler, the Terms diagnosis
    views     what the step's one result area shows: the verdict and tables, or the error block
    display   showing objects, Markdown and HTML in the notebook
    journal   the write journal: a retried or resumed step never doubles a write
    actions/  the step actions by guide phase (setup, webhook_setup, numbers, messaging, partner)

The local webhook receiver that notebook 04 starts against the sandbox is helpers.webhooks.local_receiver.

This package re-exports what notebooks, forms and tests use, so ``steps.Step.start(...)``,
``steps.register(step)`` and ``steps.PARAMS`` work as they always did; the parameter registry
itself is `helpers.parameters`.
"""
from __future__ import annotations

from .. import operations as ops  # steps.ops: the tests call operations through it
from ..parameters import (ENV_FALLBACKS, PARAMS, SECRET_ENV_PARAMS, SHARED, STEPS, Param, StepSpec, notebook_parameters,
                          parameters_cell)
from ..tables import style_health, style_templates
from ..webhooks.checker import callback_warnings
from ..webhooks.local_receiver import LOCAL_RUNS, ensure_local_receiver, stop_local_receiver
from .actions import (CONSUMER_TEST_TEXT, GUIDE_API_VERSION, MAX_WAMID_LENGTH, NUMBER_FIELDS, WABA_ASSET_FIELDS,
                      WINDOW_SECONDS, access_token, assets, business_profile, credit_line, default_webhook_db,
                      earlier_terms_failure, go_live, health_table, migration, now_epoch, partner_client, phone_numbers,
                      plan, receive_message, register, resolve_phone_number, send_test_message,
                      set_new_pin_and_register, status_timeline, step_action, subscribe_waba, subscriptions_table,
                      system_user, templates, templates_table, terms, users_table, versions_table, webhook_db_path,
                      webhooks, window_open)
from .failures import TERMS_REMEDY, error_frame, terms_not_accepted
from .step import APP_MODE_ENV, ROOT, Step, app_mode, clean_params

__all__ = [
    # the parameter registry (helpers.parameters)
    "Param", "StepSpec", "PARAMS", "SHARED", "SECRET_ENV_PARAMS", "ENV_FALLBACKS", "STEPS", "notebook_parameters",
    "parameters_cell",
    # step
    "APP_MODE_ENV", "app_mode", "ROOT", "Step", "TERMS_REMEDY", "terms_not_accepted", "error_frame", "clean_params",
    # the local webhook receiver (helpers.webhooks.local_receiver) and the store's path
    "LOCAL_RUNS", "default_webhook_db", "webhook_db_path", "ensure_local_receiver", "stop_local_receiver",
    # actions
    "GUIDE_API_VERSION", "WINDOW_SECONDS", "MAX_WAMID_LENGTH", "NUMBER_FIELDS", "WABA_ASSET_FIELDS",
    "CONSUMER_TEST_TEXT", "resolve_phone_number", "now_epoch", "step_action", "plan", "assets", "terms",
    "earlier_terms_failure", "access_token", "versions_table", "webhooks", "subscriptions_table", "subscribe_waba",
    "phone_numbers", "migration", "register", "set_new_pin_and_register", "callback_warnings", "receive_message", "window_open", "send_test_message",
    "status_timeline",
    # the partner's actions
    "system_user", "credit_line", "business_profile", "templates", "go_live", "partner_client", "users_table",
    "templates_table", "style_templates", "health_table", "style_health",
    "ops",
]
