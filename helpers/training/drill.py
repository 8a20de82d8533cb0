"""Running the drills: `Drills` (the sandbox, the training profile, the records) starts one `Drill`: the
scenario broken, the step's form, what the error means, the fixes, the verdict.

    >>> drill = Drills().start("wrong_pin"); drill.form.run_button.click()   # headless, as the tests do
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd

from .. import forms, operations as ops, steps
from ..client import TIMEOUT_ENV, GraphClient
from ..forms.base import escape_text
from ..errors import ConfigError, GraphAPIError, WebhookStatusFailed
from ..i18n import _
from ..lab import training_context
from ..paths import DEFAULT_PROFILE, REPO_ROOT
from ..peers import PersonPeer
from ..profiles import load_profile
from ..sandbox.peer import SandboxPeer
from ..sandbox.scenarios import catalogue, describe
from ..versions import DEFAULT_API_VERSION
from ..webhooks import WebhookReceiver, WebhookStore
from .catalogue import drill_specs, scenario_texts
from .drills import CORRECTED_TEMPLATE_BODY, NUMBER_ID, RIGHT_PIN, DrillSpec, FormFix, MetaFix


class Drills:
    """The drills against the sandbox at `graph_url`: `start(name)` breaks one scenario and returns its Drill.

    Inside `make lab`/`make voila` every argument has a default from the lab's environment. Records go
    to `run_dir/training/<scenario>.json`. Loading a scenario resets the whole sandbox: progress made in
    the step notebooks starts over.
    """

    def __init__(self, *, graph_url: str = "", profile: str = "", run_dir: str = "", callback_url: str = "",
                 webhook_db: str = "", api_version: str = "") -> None:

        context = training_context()
        self.graph_url = graph_url or context.get("sandbox_url") or context.get("graph_url") or ""
        if not self.graph_url:
            raise ConfigError(_("graph_url is empty: start the lab with `make lab`, or give the sandbox's URL "
                                "(python -m helpers sandbox prints it)."))
        # Drills drive the sandbox itself (scenarios, tokens, clock), so they hold its control API; the
        # steps they run get it only as their peer, as under the lab or the runner.
        self.peer = SandboxPeer(self.graph_url)
        self.control = self.peer.control
        try:
            self.control.now()
        except Exception:
            raise ConfigError(_("{url} is not the playbook's sandbox (no /_sandbox/ control API there): the drills "
                                "break things on purpose and run only against the sandbox.").format(
                                    url=self.graph_url)) from None
        self.profile_path = Path(profile or context.get("profile") or DEFAULT_PROFILE)
        self.profile = load_profile(self.profile_path)
        self.api_version = api_version or DEFAULT_API_VERSION
        self.run_dir = Path(run_dir or context.get("run_dir") or REPO_ROOT / "runs" / "local" / "training")
        self.records_dir = self.run_dir / "training"
        self.records_dir.mkdir(parents=True, exist_ok=True)
        self.client = GraphClient(graph_url=self.graph_url, api_version=self.api_version,
                                  token_env=self.profile["token_env"])
        # The secrets as the kernel got them: each drill starts from these (a fix may replace one).
        self._env_names = [self.profile[k] for k in ("token_env", "pin_env", "app_secret_env", "verify_token_env")
                           if self.profile.get(k)]
        self._env_names.append(TIMEOUT_ENV)  # a fault drill shortens the client's timeout for itself
        self._baseline = {name: os.environ.get(name) for name in self._env_names}
        self._callback_url = callback_url or context.get("callback_url", "")
        self._webhook_db = webhook_db or context.get("webhook_db", "")
        self._receiver = None
        self.records: list[dict[str, Any]] = []

    @staticmethod
    def names() -> list[str]:
        """The drills there are, built-in then replayed (read locally: no call to the sandbox)."""
        return list(drill_specs())

    @staticmethod
    def catalogue() -> dict[str, dict[str, Any]]:
        """Scenario name -> its description (title, expected_error, ...), for the drills there are."""

        scenarios = catalogue()
        return {name: describe(scenarios[name]) for name in drill_specs() if name in scenarios}

    def scenarios(self):
        """The sandbox's scenarios: name, title, the error a trainee meets, and where."""

        rows = []
        for s in self.control.scenarios():
            expected = s.get("expected_error") or {}
            rows.append({"scenario": s["name"], "title": s.get("title"),
                         "code": expected.get("code"), "subcode": expected.get("subcode"),
                         "where": expected.get("where", f"HTTP {expected.get('http_status')}")})
        return pd.DataFrame(rows, columns=["scenario", "title", "code", "subcode", "where"])

    def start(self, name: str) -> "Drill":
        """Break it: the sandbox loads the scenario; returns the drill with the step's form, ready to Run."""

        specs = drill_specs()
        if name not in specs:
            raise ConfigError(_("no drill named {name}; one of {names}").format(name=repr(name), names=", ".join(specs)))
        for env, value in self._baseline.items():
            if value is None:
                os.environ.pop(env, None)
            else:
                os.environ[env] = value
        return Drill(self, specs[name])

    def webhooks(self):
        """(callback_url, WebhookStore): the lab's receiver, else one started in this kernel."""

        if self._callback_url and self._webhook_db:
            return self._callback_url, WebhookStore(self._webhook_db)
        if self._receiver is None:
            db = self.records_dir / "webhooks.sqlite"
            self._receiver = WebhookReceiver(db, verify_token_env=self.profile["verify_token_env"],
                                             app_secret_env=self.profile["app_secret_env"]).start()
        return self._receiver.callback_url, self._receiver.store

    def summary(self):
        """One row per drill done: the error expected, the one met, and whether the fix worked."""

        columns = ["scenario", "expected", "observed", "fix_worked", "status"]
        return pd.DataFrame([{k: r.get(k) for k in columns} for r in self.records], columns=columns)

    def close(self) -> None:

        before = self._baseline.get(TIMEOUT_ENV)  # a fault drill's short timeout ends with the drills
        os.environ.pop(TIMEOUT_ENV, None) if before is None else os.environ.__setitem__(TIMEOUT_ENV, before)
        if self._receiver is not None:
            self._receiver.stop()
            self._receiver = None
        self.control.close()


class Drill:
    """One scenario, broken: the step's form (Run), what the error means, the fixes, the verdict.

    `panel` is what the training page shows. Headless, a test does what a trainee does:
    ``drill.form.run_button.click()``, then ``drill.apply_fixes()`` (types into the form's fields,
    presses the Meta-side buttons), then ``drill.form.run_button.click()`` again.
    """

    def __init__(self, drills: Drills, spec: DrillSpec) -> None:


        self.drills = drills
        self.spec = spec
        self.name = spec.scenario
        self.scenario = drills.control.load_scenario(spec.scenario)
        expected = self.scenario.get("expected_error") or {}
        self.expected = spec.expect if spec.expect is not None else expected.get("code")
        self.context: dict[str, Any] = {"pin": RIGHT_PIN, "number": NUMBER_ID, "sms": _("the SMS"),
                                        "corrected_body": CORRECTED_TEMPLATE_BODY}
        self.webhook_db = ""
        if spec.prepare is not None or spec.params is not None:
            self.webhook_db = drills.webhooks()[1].path
        self.context.update(spec.prepare(self) if spec.prepare else {})
        self.met: Any = None
        self.fixes_done: list[str] = []
        self.record: dict[str, Any] = {
            "scenario": self.name, "title": self.scenario.get("title"), "step": spec.step, "status": "running",
            "expected": self.expected, "observed": None, "observed_code": None, "observed_subcode": None,
            "http_status": None, "remedy": None, "fix": None, "fix_worked": False, "retry_verdict": None,
        }
        params = {"profile": str(drills.profile_path), "graph_url": drills.graph_url, "api_version": drills.api_version,
                  "interactive": True, "run_dir": str(drills.run_dir / self.name),
                  **(spec.params(self) if spec.params else {})}
        peer = PersonPeer() if spec.person_peer else drills.peer
        self.step = steps.Step.start(spec.step, params, show=False, peer=peer)
        self._action = spec.action or getattr(steps, spec.step.split("_", 1)[1])
        self.form = forms.for_step(self.step, on_run=self._run)

        self.header = widgets.HTML(self._header_html())
        self.header.add_class("playbook-drill-header")
        self.lesson = widgets.HTML("")
        self.lesson.add_class("playbook-lesson")
        self.fix_buttons: dict[str, widgets.Button] = {}
        rows: list[widgets.Widget] = []
        for fix in spec.fixes:
            if isinstance(fix, MetaFix):
                button = widgets.Button(description=_("Fix it: {label}").format(label=_(fix.label)), icon="wrench",
                                        tooltip=_("stands in for {what}").format(what=_(fix.stands_in_for)),
                                        layout=widgets.Layout(width="auto"))
                button.add_class("playbook-fix")
                button.on_click(lambda _b, f=fix: self._meta_fix(f))
                note = widgets.HTML("<i>" + _("stands in for {what}").format(what=as_html(_(fix.stands_in_for))) + "</i>")
                self.fix_buttons[fix.label] = button
                rows.append(widgets.HBox([button, note]))
        self.fix_notes = widgets.HTML("")
        self.fix_notes.add_class("playbook-fix-notes")
        heading = _("Fix it")
        self.fix_box = widgets.VBox([widgets.HTML(f"<b>{as_html(heading)}</b>"), self.fix_notes, *rows],
                                    layout=widgets.Layout(display="none"))
        self.fix_box.add_class("playbook-fix-box")
        self.status = widgets.HTML("")
        self.status.add_class("playbook-drill-status")
        self.panel = widgets.VBox([self.header, self.form, self.lesson, self.fix_box, self.status])
        self.panel.add_class("playbook-drill")
        self.panel.add_class("playbook-drill-" + self.name.replace("_", "-"))

    @property
    def profile(self) -> dict[str, Any]:
        return self.drills.profile

    @property
    def client(self):
        return self.drills.client

    # -- what the trainee sees -------------------------------------------------------------------
    def _header_html(self) -> str:
        texts = scenario_texts(self.scenario)
        now = (_("<b>Now:</b> press <b>{button}</b> in the form below (step {step}), then read its Graph calls: the "
                 "fault is there, and what the playbook did about it.") if self.spec.passes else
               _("<b>Now:</b> press <b>{button}</b> in the form below (step {step}), read the error and what to do, "
                 "then fix it."))
        return (f"<h3>{as_html(texts['title'])}</h3>"
                "<p>" + _("<b>Broken:</b> {description}").format(description=as_html(texts["description"])) + "</p>"
                "<p>" + now.format(button=as_html(self.form.run_button.description), step=as_html(self.spec.step))
                + "</p>")

    def _fix_notes_html(self) -> str:
        items = []
        for fix in self.spec.fixes:
            if isinstance(fix, FormFix):
                items.append(markdown_html(_(fix.instruction).format(**self.context)))
            else:
                button = _("Fix it: {label}").format(label=_(fix.label))
                items.append(_("Press <b>{button}</b> (stands in for {what}).").format(
                    button=as_html(button), what=as_html(_(fix.stands_in_for))))
        items.append(_("Then press <b>{button}</b> again.").format(button=as_html(self.form.run_button.description)))
        return "<ol>" + "".join(f"<li>{item}</li>" for item in items) + "</ol>"

    def _meta_fix(self, fix: MetaFix) -> None:
        try:
            done = fix.apply(self)
        except Exception as exc:  # a button callback's exception would reach no one: say it on the page
            self.status.value = ('<span style="color:#b00020">'
                                 + _("{fix} did not work: {error}").format(fix=as_html(_(fix.label)), error=as_html(exc))
                                 + "</span>")
            return
        self.fixes_done.append(done)
        self.fix_notes.value = self._fix_notes_html()  # a Meta-side fix may add context (the SMS)
        rest = any(isinstance(f, FormFix) and not self.form_fix_done(f) for f in self.spec.fixes)
        now = (_("🔧 {done}. Now do the rest of the fix, then press <b>{button}</b>.") if rest
               else _("🔧 {done}. Now press <b>{button}</b>."))
        self.status.value = now.format(done=as_html(done), button=as_html(self.form.run_button.description))

    def form_fix_done(self, fix: FormFix) -> bool:
        """Whether the form already holds the fix's value (a secret field: its variable holds it)."""
        try:
            wanted = fix.value(self)
        except Exception:  # the value depends on something not there yet (an SMS not sent)
            return False
        widget = self.form.inputs.get(fix.field)
        if widget is None:
            return False
        if self.form.fields[fix.field].secret:
            return os.environ.get(str(self.step.params.get(fix.field) or "")) == wanted
        return str(widget.value).strip() == str(wanted)

    def _form_fixes(self) -> list[FormFix]:
        return [f for f in self.spec.fixes if isinstance(f, FormFix)]

    def apply_fixes(self) -> None:
        """What the trainee does, through the widgets: Meta-side buttons clicked, the right values typed."""
        for fix in self.spec.fixes:
            if isinstance(fix, MetaFix):
                self.fix_buttons[fix.label].click()
            else:
                self.form.inputs[fix.field].value = fix.value(self)

    # -- the form's Run ----------------------------------------------------------------------------
    def _run(self, step) -> Any:
        step.retry()  # a Run after a failure starts clean
        try:
            result = self._action(step)
        except Exception as exc:
            if self.met is None:
                self._meet(exc, None)
            else:
                self.status.value = ('<span style="color:#b00020">'
                                     + _("Still failing: {error}. Check the fix, then Run again.").format(
                                         error=as_html(_observed(exc))) + "</span>")
            raise
        if not (result.get("ok", True) if isinstance(result, dict) else True):
            if self.met is None:
                self._meet(None, result)
            return result
        if self.spec.passes:
            self._rode_through(step, result)
            return result
        self._passed(step, result)
        return result

    def _rode_through(self, step, result: dict[str, Any]) -> None:
        """A fault drill's Run passed: it counts once the sandbox shows the fault was injected."""
        faults = self.drills.control.faults()
        met = [r for r in faults.get("rules") or [] if r.get("hits")]
        verdict = result.get("verdict") if isinstance(result, dict) else None
        if not met:
            self.record.update(status="failed", retry_verdict=_("passed without meeting the fault: was it loaded?"))
            self._write()
            self.status.value = _("⚠️ The step passed without meeting the fault: press Break it again.")
            return
        what = "; ".join(_("{kind} on {method} {path} ({hits}×)").format(
            kind=r["kind"], method=r.get("method") or _("any"), path=r.get("path"), hits=r["hits"]) for r in met)
        step.finish(True, verdict or "")
        self.met = what
        self.record.update(status="passed", observed="passed", remedy=self.scenario.get("fix"), fix_worked=True,
                           fix=_("nothing to fix: the playbook rode through {what}").format(what=what),
                           retry_verdict=verdict or "passed")
        self._write()
        self.lesson.value = ('<div style="border-left: 4px solid #1e7e34; padding: 2px 0 2px 12px">'
                             "<p>" + _("✅ The sandbox injected {what}, and the step passed anyway.").format(
                                 what=as_html(what)) + "</p>"
                             "<p>" + _("<b>Read it.</b> {lesson}").format(lesson=markdown_html(_(self.spec.lesson)))
                             + "</p><p>" + _("<b>Look at the Graph calls above:</b> {what}").format(
                                 what=as_html(_(self.scenario.get("trainee_sees")))) + "</p></div>")
        self.status.value = ('<span style="color:#1e7e34"><b>'
                             + _("✅ {step} passes through the fault.").format(step=as_html(self.spec.step))
                             + "</b></span> " + _("Pick another scenario above."))

    def _meet(self, exc: BaseException | None, result: dict[str, Any] | None) -> None:

        observed = _observed(exc) if exc is not None else "check failed"  # a record value (DrillSpec.expect), not shown
        remedy = None
        error = self.step.record.get("error") or {}
        if exc is not None:
            remedy = error.get("remedy") or getattr(exc, "remedy", None)
            self.record.update(observed_code=getattr(exc, "code", None), observed_subcode=getattr(exc, "subcode", None),
                               http_status=getattr(exc, "http_status", None))
        else:
            remedy = result.get("verdict")
        self.met = exc if exc is not None else result
        self.record.update(observed=observed, remedy=remedy)
        if isinstance(exc, GraphAPIError) or isinstance(exc, WebhookStatusFailed):
            code = f"{exc.code}" + (f"/{exc.subcode}" if exc.subcode else "")
            what = (_("error {code} ({title})").format(code=code, title=_(exc.title)) if exc.title
                    else _("error {code}").format(code=code))
        elif exc is not None:
            what = _("the step stopped: {reason}").format(
                reason=str(getattr(exc, "reason", None) or exc).rstrip("."))
        else:
            what = _("the step's check failed: {verdict}").format(verdict=str(result.get("verdict")).rstrip("."))
        verdict = (_("✅ This is what the scenario teaches: {what}.").format(what=as_html(what))
                   if observed == self.expected
                   else _("⚠️ Expected {expected}, met {what}.").format(expected=as_html(self.expected), what=as_html(what)))
        colour = "#1e7e34" if observed == self.expected else "#b36b00"
        self.lesson.value = (f'<div style="border-left: 4px solid {colour}; padding: 2px 0 2px 12px">'
                             f"<p>{verdict}</p>"
                             "<p>" + _("<b>Read it.</b> {lesson}").format(lesson=markdown_html(_(self.spec.lesson)))
                             + "</p><p>" + _("The form's result above shows what the API said and what to do.")
                             + "</p></div>")
        self.fix_notes.value = self._fix_notes_html()
        self.fix_box.layout.display = "flex"
        self.status.value = ""

    def _passed(self, step, result: dict[str, Any]) -> None:
        verdict = result.get("verdict") if isinstance(result, dict) else None
        if self.met is None:
            self.record.update(status="failed", retry_verdict=_("passed without meeting {expected}: was the "
                                                                "scenario loaded?").format(expected=self.expected))
            self._write()
            self.status.value = _("⚠️ The step passed without meeting {expected}: press Break it again.").format(
                expected=as_html(self.expected))
            return
        step.finish(True, verdict or "")
        fixes = self.fixes_done + [_(fix.done) if fix.done else
                                   _("typed the right value into the form's {field} field").format(field=fix.field)
                                   for fix in self._form_fixes()]
        self.record.update(fix="; ".join(fixes), fix_worked=True, retry_verdict=verdict or "passed",
                           status="passed" if self.record["observed"] == self.expected else "failed")
        self._write()
        self.status.value = ('<span style="color:#1e7e34"><b>'
                             + _("✅ Fixed: {step} passes.").format(step=as_html(self.spec.step))
                             + f"</b> {as_html((verdict or '').rstrip('.'))}.</span> " + _("Pick another scenario above."))
        self.lesson.value = ('<div style="border-left: 4px solid #1e7e34; padding: 2px 0 2px 12px">'
                             "<p>" + _("✅ Fixed. What it taught: error {code}.").format(
                                 code=as_html(self.record.get("observed"))) + "</p>"
                             "<p>" + _("<b>Read it.</b> {lesson}").format(lesson=markdown_html(_(self.spec.lesson)))
                             + "</p></div>")

    def _write(self) -> None:
        self.drills.records = [r for r in self.drills.records if r["scenario"] != self.name] + [self.record]
        path = self.drills.records_dir / f"{self.name}.json"
        path.write_text(json.dumps(self.record, indent=2, default=str, ensure_ascii=False), encoding="utf-8")

    # -- helpers the drills' fixes use ---------------------------------------------------------------
    def connect_webhooks(self) -> str:
        """Save the receiver as the app's callback and subscribe the app to the WABA; returns the callback URL."""

        callback_url, _store = self.drills.webhooks()
        ops.set_app_webhook(self.client, app_id=self.profile["app_id"], app_secret_env=self.profile["app_secret_env"],
                            callback_url=callback_url, verify_token_env=self.profile["verify_token_env"])
        ops.subscribe_app(self.client, self.profile["waba_id"])
        return callback_url


def _observed(exc: BaseException) -> int | str:
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) else type(exc).__name__


def as_html(text: Any) -> str:
    """Text for an HTML widget (the forms' escape_text), None as nothing."""
    return escape_text("" if text is None else text)


def markdown_html(text: str) -> str:
    """**bold** and `code` of the drill texts as HTML (the widgets show HTML, not Markdown)."""

    out = as_html(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    out = re.sub(r"`(.+?)`", r"<code>\1</code>", out)
    return re.sub(r"\*(.+?)\*", r"<i>\1</i>", out)
