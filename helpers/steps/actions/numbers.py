"""The phone number step actions: 06 list the WABA's numbers, 07 migrate one (legacy), 08 register it.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping


from ... import operations as ops, tables, validate
from ...errors import ConfigError
from ...i18n import N_, _
from ...parameters import PARAMS
from ..journal import (RegisterBudgetSpent, fail, guarded_write, journal_for, register_budget,
                      register_count_name)
from ..step import Step
from .common import NUMBER_FIELDS, resolve_phone_number, step_action

# ---- 06 phone numbers -----------------------------------------------------------------------------
@step_action
def phone_numbers(step: Step) -> dict[str, Any]:
    """Step 4: every number of the WABA (all pages) with readiness; picks the one to onboard."""
    (waba_id,) = step.require("waba_id")
    with step.action(N_("list the phone numbers (every page)")):
        numbers = ops.list_phone_numbers(step.client, waba_id, fields=NUMBER_FIELDS)
    table = tables.phone_numbers_table(numbers)
    picked = None
    p = step.params
    if p.get("phone_number_id") or p.get("display_phone_number"):
        with step.action(N_("pick the number to onboard")):
            picked = ops.find_phone_number(numbers, display_phone_number=p.get("display_phone_number", ""),
                                           phone_number_id=p.get("phone_number_id", ""))
        row = table[table["phone_number_id"] == str(picked["id"])].iloc[0]
        step.output(phone_number_id=str(picked["id"]))
        step.fact(picked={"phone_number_id": str(picked["id"]), "display_phone_number": picked.get("display_phone_number"),
                          **_status_of(picked), "ready_to_register": bool(row["ready_to_register"]),
                          "connected": bool(row["connected"])},
                  next_step=_next_for(picked))
    step.fact(phone_numbers=len(table), ready_to_register=int(table["ready_to_register"].sum()),
              connected=int(table["connected"].sum()))
    return {"numbers": table, "picked": picked, "ok": picked is not None,
            "verdict": (_("number {display_phone_number} has ID {phone_number_id}: {next_step}").format(
                            display_phone_number=picked.get("display_phone_number"), phone_number_id=picked["id"],
                            next_step=_(_next_for(picked)))
                        if picked else _("no number picked: set display_phone_number or phone_number_id"))}


def _status_of(number: Mapping[str, Any]) -> dict[str, Any]:
    return {k: number.get(k) for k in ("code_verification_status", "status", "platform_type", "name_status",
                                       "quality_rating", "is_pin_enabled")}


def _next_for(number: Mapping[str, Any]) -> str:
    """What the number needs next, in English (the record's next_step); shown with _()."""
    if number.get("platform_type") == "ON_PREMISE":
        return N_("on the On-Premises API: migrate it (07_migration, legacy) before registering")
    if number.get("status") == "CONNECTED" and number.get("platform_type") == "CLOUD_API":
        return N_("already registered on Cloud API (08 will confirm)")
    if number.get("code_verification_status") != "VERIFIED":
        return N_("needs verification: 08 requests and verifies a code, then registers")
    return N_("ready: 08 registers it")


# ---- 07 migration (legacy) ---------------------------------------------------------------------
@step_action
def migration(step: Step) -> dict[str, Any]:
    """Step 4 exception (legacy since the On-Premises sunset on 2025-10-23): register with the backup."""
    p = step.params
    if p["onboarding"] != "migrate":
        step.fact(skipped=True, reason=_("onboarding is '{onboarding}': migration applies only to numbers coming "
                                         "from the On-Premises API").format(onboarding=p["onboarding"]))
        return {"ok": True, "skipped": True, "verdict": _("not applicable: skipped (onboarding is not 'migrate')")}
    with step.action(N_("check the PIN and the backup")):
        _secrets_first(step, "pin_env", "backup_password_env")
        step.require("backup_data")
    with step.action(N_("read the number")):
        number = resolve_phone_number(step)
    before = _status_of(number)
    already = number.get("platform_type") == "CLOUD_API" and number.get("status") == "CONNECTED"
    if not already:
        with step.action(N_("register with the On-Premises backup")):
            if number.get("platform_type") != "ON_PREMISE":
                raise ConfigError(_("number {phone_number_id} is on {platform_type}, not ON_PREMISE: there is "
                                    "nothing to migrate; register it with 08_register.").format(
                    phone_number_id=number["id"], platform_type=number.get("platform_type")))
            ops.register_phone_number(step.client, str(number["id"]), pin_env=p["pin_env"],
                                      backup_data=step.require("backup_data")[0],
                                      backup_password_env=p["backup_password_env"])
    with step.action(N_("confirm the number is on Cloud API")):
        after = ops.get_phone_number(step.client, str(number["id"]), fields=NUMBER_FIELDS)
    ok = after.get("platform_type") == "CLOUD_API"
    step.fact(skipped=False, already_migrated=already, before=before, after=_status_of(after))
    return {"ok": ok, "skipped": False, "numbers": tables.phone_numbers_table([after]),
            "verdict": (_("already on Cloud API (nothing to do)") if already else _("migrated to Cloud API"))
            if ok else _("still on {platform_type}").format(platform_type=after.get("platform_type"))}


def _secrets_first(step: Step, *env_params: str) -> None:
    """The secrets these *_env parameters name are set and well-formed (a PIN: 6 digits), before any Graph call."""
    for param in env_params:
        entry, env = PARAMS[param], step.params[param]
        value = validate.secret_from_env(env, entry.what)
        if entry.secret == "pin":
            validate.pin(value, _("the PIN in {env}").format(env=env))


# ---- 08 register -------------------------------------------------------------------------------
@step_action
def register(step: Step, *, code_source: Callable[[str], str] | None = None) -> dict[str, Any]:
    """Step 5: verify the number if needed, register it with the PIN, confirm with a GET.

    The verification code comes from `verification_code`, else `code_source(phone_number_id)`
    (a form), else `step.peer` (an emulator's "SMS"); against Meta the person enters it.
    """
    p = step.params
    with step.action(N_("check the PIN")):
        # Before any Graph call: a bad PIN found after request_code would have spent an SMS
        # and the number's code-request limit (the code and the region are checked at Step.start).
        _secrets_first(step, "pin_env")
    with step.action(N_("read the number")):
        number = resolve_phone_number(step)
    phone_id = str(number["id"])
    before = _status_of(number)
    if number.get("is_on_biz_app"):
        return _coexistence(step, number)
    already = number.get("status") == "CONNECTED" and number.get("platform_type") == "CLOUD_API"
    verified_now = False
    if not already and number.get("platform_type") == "ON_PREMISE":
        with step.action(N_("check the platform")):
            raise ConfigError(_("number {phone_number_id} is registered on the On-Premises API: migrate it with "
                                "07_migration (onboarding: migrate) instead of registering it here.").format(
                phone_number_id=phone_id))
    if not already and number.get("code_verification_status") != "VERIFIED":
        code = p.get("verification_code")
        with step.action(N_("request a verification code (SMS)")):
            if not code:
                ops.request_code(step.client, phone_id, code_method="SMS", language="en_US")
        with step.action(N_("verify the code")):
            if not code and code_source is not None:
                code = code_source(phone_id)
            if not code:
                code = step.peer.verification_code(phone_id)
            if not code:
                raise ConfigError(_("number {phone_number_id} needs verifying: a code was sent by SMS to "
                                    "{display_phone_number}. Enter it in the form's 'Code from the SMS' field (or as "
                                    "the verification_code parameter) and run again.").format(
                    phone_number_id=phone_id, display_phone_number=number.get("display_phone_number")))
            ops.verify_code(step.client, phone_id, code)
            verified_now = True
            step.params["verification_code"] = ""  # single-use
    if not already:
        with step.action(N_("register with the two-step verification PIN")):
            _register_once(step, phone_id)
    with step.action(N_("confirm with GET")):
        after = ops.get_phone_number(step.client, phone_id, fields=NUMBER_FIELDS)
    ok = after.get("status") == "CONNECTED" and after.get("platform_type") == "CLOUD_API"
    journal = journal_for(step)
    step.fact(already_registered=already, verified_now=verified_now, before=before, after=_status_of(after),
              registered=ok, data_localization_region=p.get("data_localization_region") or None,
              register_calls=int(journal.data["counts"].get(register_count_name(phone_id)) or 0))
    where = {"status": after.get("status"), "platform_type": after.get("platform_type"),
             "pin": _("two-step PIN on") if after.get("is_pin_enabled") else _("two-step PIN off")}
    verdict = (_("already registered (nothing to do): status {status}, platform {platform_type}, {pin}") if already
               else _("registered: status {status}, platform {platform_type}, {pin}")).format(**where) if ok else (
        _("not registered: status {status}, platform {platform_type}").format(**where))
    return {"numbers": tables.phone_numbers_table([after]), "ok": ok, "verdict": verdict, "already": already}


def _register_once(step: Step, phone_id: str) -> None:
    """POST register sent once per call (no automatic retry: each spends the number's 10-per-72-hours budget),
    counted in the journal; after a lost answer the number is read back before registering again."""
    def connected() -> dict[str, Any] | None:
        number = ops.get_phone_number(step.client, phone_id, fields=("id", "status", "platform_type"))
        return dict(number) if number.get("status") == "CONNECTED" and number.get("platform_type") == "CLOUD_API" else None

    def write() -> dict[str, Any]:
        with step.client.retry_limit(0):
            return ops.register_phone_number(step.client, phone_id, pin_env=step.params["pin_env"],
                                             data_localization_region=step.params.get("data_localization_region") or None)
    try:
        guarded_write(step, f"register:{phone_id}", N_("register the number"), keep=("status", "platform_type"),
                      write=write, read_back=connected, before_write=register_budget(phone_id), retry_throttled=True)
    except RegisterBudgetSpent as exc:
        raise fail(step, exc, N_("register with the two-step verification PIN"), _("Register budget spent")) from None


@step_action
def set_new_pin_and_register(step: Step) -> dict[str, Any]:
    """After a PIN mismatch (133005): set the number's two-step PIN to the one in pin_env
    (POST /{PHONE_NUMBER_ID} {"pin"}), then register with it."""
    with step.action(N_("check the new PIN")):
        _secrets_first(step, "pin_env")
    with step.action(N_("read the number")):
        number = resolve_phone_number(step)
    with step.action(N_("set a new two-step verification PIN")):
        ops.set_two_step_pin(step.client, str(number["id"]), pin_env=step.params["pin_env"])
    step.fact(pin_reset=True)
    return register(step)


COEXISTENCE_MPS = 20


def _coexistence(step: Step, number: Mapping[str, Any]) -> dict[str, Any]:
    """A number shared with the WhatsApp Business app: never registered again (that would end coexistence)."""
    connected = number.get("status") == "CONNECTED" and number.get("platform_type") == "CLOUD_API"
    step.fact(coexistence=True, already_registered=connected, registered=connected, register_skipped=True,
              before=_status_of(number), throughput_mps=COEXISTENCE_MPS)
    why = _("it is shared with the WhatsApp Business app (is_on_biz_app: true, onboarded through Embedded Signup's "
            "coexistence flow): registering it again would end coexistence")
    verdict = (_("coexistence number: not registered again, {why}; connected on Cloud API at "
                 "{mps} messages/s").format(why=why, mps=COEXISTENCE_MPS) if connected else
               _("coexistence number not connected (status {status}): finish Embedded Signup's coexistence flow in "
                 "the WhatsApp Business app; it is not registered here because {why}").format(
                   status=number.get("status"), why=why))
    return {"numbers": tables.phone_numbers_table([dict(number)]), "ok": connected, "verdict": verdict,
            "already": connected, "coexistence": True,
            "warnings": [_("Coexistence number: {why}.").format(why=why)]}
