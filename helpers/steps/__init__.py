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

    step            `Step` (parameters, client, actions, result records), error display, `clean_params`
    local_receiver  the detached webhook receiver that notebook 04 starts against the sandbox
    actions         the step actions of 00 to 10 and the lookups they share
    views           what the step's one result area shows: the verdict and tables, or the error block
    partner_actions the Solution Partner's steps: 07a system user, 07b credit line, 11 business profile,
                    12 templates, 13 go-live health

This package re-exports what notebooks, forms and tests use, so ``steps.Step.start(...)``,
``steps.register(step)`` and ``steps.PARAMS`` work as they always did; the parameter registry
itself is `helpers.parameters`.
"""
from __future__ import annotations

from .. import operations as ops  # steps.ops: the tests call operations through it
from .actions import (CONSUMER_TEST_TEXT, callback_warnings, GUIDE_API_VERSION, MAX_WAMID_LENGTH, NUMBER_FIELDS, WABA_ASSET_FIELDS,
                      WINDOW_SECONDS, access_token, assets, earlier_terms_failure, migration, now_epoch, phone_numbers,
                      plan, receive_message, register, resolve_phone_number, send_test_message, set_new_pin_and_register, status_timeline,
                      step_action, subscribe_waba, subscriptions_table, terms, versions_table, webhooks, window_open)
from .partner_actions import (business_profile, credit_line, go_live, health_table, partner_client, style_health,
                              style_templates, system_user, templates, templates_table, users_table)
from .local_receiver import (LOCAL_RUNS, default_webhook_db, ensure_local_receiver, stop_local_receiver,
                             webhook_db_path)
from ..parameters import (ENV_FALLBACKS, PARAMS, SECRET_ENV_PARAMS, SHARED, STEPS, Param, StepSpec, notebook_parameters,
                     parameters_cell)
from .step import APP_MODE_ENV, ROOT, TERMS_REMEDY, Step, app_mode, clean_params, error_frame, terms_not_accepted

__all__ = [
    # the parameter registry (helpers.parameters)
    "Param", "StepSpec", "PARAMS", "SHARED", "SECRET_ENV_PARAMS", "ENV_FALLBACKS", "STEPS", "notebook_parameters",
    "parameters_cell",
    # step
    "APP_MODE_ENV", "app_mode", "ROOT", "Step", "TERMS_REMEDY", "terms_not_accepted", "error_frame", "clean_params",
    # local_receiver
    "LOCAL_RUNS", "default_webhook_db", "webhook_db_path", "ensure_local_receiver", "stop_local_receiver",
    # actions
    "GUIDE_API_VERSION", "WINDOW_SECONDS", "MAX_WAMID_LENGTH", "NUMBER_FIELDS", "WABA_ASSET_FIELDS",
    "CONSUMER_TEST_TEXT", "resolve_phone_number", "now_epoch", "step_action", "plan", "assets", "terms",
    "earlier_terms_failure", "access_token", "versions_table", "webhooks", "subscriptions_table", "subscribe_waba",
    "phone_numbers", "migration", "register", "set_new_pin_and_register", "callback_warnings", "receive_message", "window_open", "send_test_message",
    "status_timeline",
    # partner_actions
    "system_user", "credit_line", "business_profile", "templates", "go_live", "partner_client", "users_table",
    "templates_table", "style_templates", "health_table", "style_health",
    "ops",
]
