"""The webhook step actions: 04 check and save the app's callback, 05 subscribe the app to the WABA.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pandas as pd

from ... import operations as ops, tables
from ...errors import ConfigError
from ...i18n import N_, _
from ...webhooks import check_endpoint
from ...webhooks.checker import callback_warnings
from ...webhooks.local_receiver import ensure_local_receiver
from ..journal import guarded_write
from ..step import Step
from .common import step_action, webhook_db_path

# ---- 04 webhooks ------------------------------------------------------------------------------
@step_action
def webhooks(step: Step) -> dict[str, Any]:
    """Step 2: check the callback as Meta would, then save it as the app's webhook (messages field)."""
    p = step.params
    (app_id,) = step.require("app_id")
    receiver = None
    callback_url = p.get("callback_url")
    warnings = callback_warnings(callback_url, to_meta=step.talks_to_meta) if callback_url else []
    if warnings:
        step.fact(callback_warnings=warnings)
    if not callback_url:
        with step.action(N_("check the callback URL")):
            if not step.peer.local_callbacks:
                raise ConfigError(_("callback_url is empty. Meta needs an internet-facing HTTPS endpoint: give its "
                                    "URL (a local receiver is only started for a Graph API on this machine that is "
                                    "named as the peer, such as the sandbox: see docs/sandbox.md)."))
        with step.action(N_("start the local webhook receiver")):
            receiver = ensure_local_receiver(webhook_db_path(step), verify_token_env=p["verify_token_env"],
                                             app_secret_env=p["app_secret_env"])
        callback_url = receiver["callback_url"]
        step.output(callback_url=callback_url, webhook_db=receiver["webhook_db"])
    elif p.get("webhook_db"):
        step.output(callback_url=callback_url, webhook_db=str(Path(p["webhook_db"]).resolve()))
    else:
        step.output(callback_url=callback_url)
    with step.action(N_("check the endpoint as Meta would")):
        checks = check_endpoint(callback_url, verify_token_env=p["verify_token_env"],
                                app_secret_env=p["app_secret_env"], timeout=10.0)
    passed = bool(checks["passed"].all())
    subscription = pd.DataFrame()
    if passed:
        with step.action(N_("save the callback as the app's webhook (messages)")):
            # Idempotent at Meta, yet not re-sent blind: after a lost answer the subscription read back decides.
            guarded_write(step, f"app_callback:{app_id}", N_("save the app's callback URL"), keep=("callback_url",),
                          write=lambda: _once(step, ops.set_app_webhook, app_id=app_id, app_secret_env=p["app_secret_env"],
                                              callback_url=callback_url, verify_token_env=p["verify_token_env"]),
                          read_back=lambda: _callback_saved(step, app_id, callback_url))
        with step.action(N_("read the app's webhook subscription")):
            subscription = subscriptions_table(ops.get_app_webhook(step.client, app_id=app_id,
                                                                   app_secret_env=p["app_secret_env"]))
    saved = bool(len(subscription)) and callback_url in set(subscription["callback_url"])
    step.fact(callback_url=callback_url, local_receiver=receiver is not None,
              receiver_reused=bool(receiver and receiver["reused"]),
              checks_passed=int(checks["passed"].sum()), checks_total=int(len(checks)),
              failed_checks=checks.loc[~checks["passed"], "check"].tolist(), subscription_saved=saved)
    verdict = (_("callback {callback_url} passes every check and is the app's webhook for messages").format(
                   callback_url=callback_url) if passed and saved
               else _("the endpoint failed: {checks}").format(checks=", ".join(checks.loc[~checks["passed"], "check"]))
               if not passed else _("the app's subscription does not show the callback"))
    return {"warnings": warnings, "checks": checks, "subscription": subscription, "ok": passed and saved,
            "verdict": verdict, "receiver": receiver}


def _once(step: Step, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The operation with no re-send after a lost answer (the guarded write reads the state back instead)."""
    with step.client.write_once():
        return operation(step.client, *args, **kwargs)


def _callback_saved(step: Step, app_id: str, callback_url: str) -> dict[str, Any] | None:
    subscriptions = ops.get_app_webhook(step.client, app_id=app_id, app_secret_env=step.params["app_secret_env"])
    return next((dict(s) for s in subscriptions if s.get("callback_url") == callback_url), None)


def subscriptions_table(subscriptions: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for sub in subscriptions:
        fields = sub.get("fields") or []
        names = [f.get("name") if isinstance(f, dict) else str(f) for f in fields]
        rows.append({"object": sub.get("object"), "callback_url": sub.get("callback_url"),
                     "active": sub.get("active"), "fields": ", ".join(n for n in names if n)})
    return pd.DataFrame(rows, columns=["object", "callback_url", "active", "fields"])


# ---- 05 subscribe the app to the WABA -----------------------------------------------------------
@step_action
def subscribe_waba(step: Step) -> dict[str, Any]:
    """Step 3: POST /{waba_id}/subscribed_apps unless already subscribed, then GET to confirm."""
    (waba_id,) = step.require("waba_id")
    app_id = step.params.get("app_id")
    with step.action(N_("read the WABA's subscribed apps")):
        before = ops.list_subscribed_apps(step.client, waba_id)
    already = ops.app_in(before, app_id) if app_id else bool(before)
    if not already:
        with step.action(N_("subscribe the app to the WABA")):
            answer = guarded_write(step, f"subscribed_apps:{waba_id}", N_("subscribe the app to the WABA"), keep=(),
                                   write=lambda: _once(step, ops.subscribe_app, waba_id),
                                   read_back=lambda: _subscribed(step, waba_id, app_id)).value
            if answer.get("success") is not True:
                raise ConfigError(_("subscribed_apps answered {answer} instead of success").format(answer=repr(answer)))
    with step.action(N_("confirm with GET subscribed_apps")):
        after = ops.list_subscribed_apps(step.client, waba_id)
    confirmed = ops.app_in(after, app_id) if app_id else bool(after)
    table = tables.subscribed_apps_table(after)
    step.fact(already_subscribed=already, subscribed=confirmed, subscribed_apps=table["app_id"].tolist())
    return {"apps": table, "ok": confirmed, "already": already,
            "verdict": (_("app already subscribed (nothing to do)") if already else _("app subscribed"))
            if confirmed else _("app {app_id} is not among the WABA's subscribed apps").format(app_id=app_id or "")}


def _subscribed(step: Step, waba_id: str, app_id: str | None) -> dict[str, Any] | None:
    apps = ops.list_subscribed_apps(step.client, waba_id)
    return {"success": True} if (ops.app_in(apps, app_id) if app_id else bool(apps)) else None
