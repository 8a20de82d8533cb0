"""StepForm: the form above a step's action cells in JupyterLab (ipywidgets 8).

Fields are built from declared `Field` specs and prefilled from the step's parameters. Each
field validates as the user types and shows its message in a label (CSS class
`playbook-validation`). A secret field (a `Password`) never keeps what is typed: the value goes
into `os.environ[<the variable the step's *_env parameter names>]` and the field clears itself.
The Run button (`playbook-run`) copies the fields into the step's parameters and runs the
step's action through `step.run`, into the step's one result area (`playbook-output`, shown by
the action cell), and the summary line (`playbook-summary`) names the verdict, or the failure's
code and title. The summary follows the cell's run too. Nothing waits for a click: the
notebook's cells run on their own, and with `interactive=False` no form is built.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
import html
from typing import Any, Callable

import ipywidgets as widgets
from IPython.display import display

from .. import validate
from ..errors import ConfigError
from ..i18n import N_, _
from ..parameters import PARAMS, env_name_of
from ..tables import failure_summary
from ..webhooks.checker import callback_warnings

# A field whose value is refused gets a red border; a warning (not a refusal) reads amber. Injected with each form.
FORM_CSS = """<style>
.playbook-invalid input, .playbook-invalid textarea, .playbook-invalid select {
  border: 2px solid #b00020 !important; box-shadow: 0 0 0 1px #b00020 inset; }
.playbook-warning { color: #8a5a00; }
</style>"""
ERROR_COLOUR, OK_COLOUR, WARNING_COLOUR = "#b00020", "#1e7e34", "#8a5a00"

KINDS = ("id", "phone", "text", "url", "code", "region", "list", "number", "choice", "bool", "secret", "pin")


@dataclass(frozen=True)
class Field:
    """One form field. `name` is the step parameter (for secrets: the *_env parameter naming the variable)."""
    name: str
    label: str
    kind: str = "text"
    required: bool = False
    options: tuple[str, ...] = ()
    placeholder: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown field kind {self.kind!r}; one of {', '.join(KINDS)}")

    @property
    def secret(self) -> bool:
        return self.kind in ("secret", "pin")

    @property
    def css(self) -> str:
        """The field's CSS class, e.g. playbook-waba-id, playbook-pin, playbook-token."""
        base = self.name[:-4] if self.secret and self.name.endswith("_env") else self.name
        return "playbook-" + base.replace("_", "-")


def field(name: str, **overrides: Any) -> Field:
    """The form field for a parameter, from its registry entry (label, kind, placeholder, options)."""
    p = PARAMS[name]
    values = dict(label=p.label or name, kind=p.kind, placeholder=p.placeholder, options=p.options)
    values.update(overrides)
    return Field(name, **values)


def check_value(field: Field, value: Any) -> str:
    """'' when the value is acceptable for the field, else what to fix (never echoing a secret).

    The rule is the parameter's own, from the registry (helpers.parameters).
    """
    if field.kind in ("bool", "choice", "secret", "pin"):
        return ""
    if field.kind == "number":
        return "" if value is not None and value >= 0 else _("{name} must be a non-negative number.").format(
            name=_(field.label))
    text = "" if value is None else str(value).strip()
    if not text:
        return _("{label} is required.").format(label=_(field.label)) if field.required else ""
    if field.name not in PARAMS:
        return ""
    try:
        PARAMS[field.name].clean(text)
    except ConfigError as exc:
        return str(exc)
    return ""


def check_secret(field: Field, value: str) -> str:
    """'' when a typed secret may be stored; a PIN must be exactly 6 digits."""
    if field.kind == "pin":
        try:
            validate.pin(value, field.label)
        except ConfigError as exc:
            return _("{problem} Nothing was stored.").format(problem=exc)
    elif not value.strip():
        return _("{label} is empty; nothing was stored.").format(label=_(field.label))
    return ""


class StepForm(widgets.VBox):
    """A step's form: fields from specs, live validation, secrets into the environment, Run + Output."""

    def __init__(self, step, fields: list[Field], on_run: Callable[[Any], Any] | None = None, *,
                 title: str | None = None, run_label: str = N_("Run")) -> None:
        self.step = step
        self.fields = {f.name: f for f in fields}
        self.on_run = on_run
        self.result: Any = None
        self.error: BaseException | None = None
        self.inputs: dict[str, widgets.Widget] = {}
        self.messages: dict[str, widgets.HTML] = {}
        rows = []
        for spec in fields:
            widget = self._make_input(spec)
            message = widgets.HTML(value="")
            message.add_class("playbook-validation")
            message.add_class("playbook-validation-" + spec.css[len("playbook-"):])
            self.inputs[spec.name], self.messages[spec.name] = widget, message
            rows.append(widgets.VBox([widget, message]))
            if spec.secret:
                widget.observe(lambda change, s=spec: self._secret_typed(s, change), names="value")
                self._show_secret_state(spec)
            else:
                widget.observe(lambda change, s=spec: self._validate_field(s), names="value")
                self._validate_field(spec)
        self.run_button = widgets.Button(description=_(run_label), button_style="primary", icon="play",
                                         tooltip=_("run {step} with these values").format(step=step.name))
        self.run_button.add_class("playbook-run")
        self.run_button.on_click(lambda _button: self.run())
        self.summary = widgets.HTML(value="")
        self.summary.add_class("playbook-summary")
        # The step's one result area: the action cell shows it; Run redraws it (the form shows it itself
        # only when no cell has, e.g. when only the form's cell was run).
        self.output = step.result_area
        self.css = widgets.HTML(value=FORM_CSS)
        self.css.add_class("playbook-style")
        # In the app the page's header names the step; the form says what it is for, without the file name.
        app = not getattr(step, "acts_on_open", True)
        heading = widgets.HTML(value=f"<b>{escape_text(_(step.spec.title) if app else (title or step.name))}</b>")
        self.notes = widgets.VBox([])  # warnings a form shows above its button (08's PIN warning)
        super().__init__([self.css, heading, *rows, self.notes, widgets.HBox([self.run_button, self.summary])])
        self.add_class("playbook-form")
        self.add_class("playbook-form-" + step.name.replace("_", "-"))
        step.on_result(self._step_ran)

    # -- building -----------------------------------------------------------------------------
    def _make_input(self, spec: Field) -> widgets.Widget:
        style = {"description_width": "14em"}
        layout = widgets.Layout(width="44em")
        current = self.step.params.get(spec.name)
        label = _(spec.label)  # marked N_() in the registry; translated here, where it is shown
        if spec.secret:
            env = env_name_of(self.step.params, spec.name)
            widget = widgets.Password(value="", description=label,
                                      placeholder=_("stored in ${env}, then cleared").format(env=env),
                                      continuous_update=False, style=style, layout=layout)
        elif spec.kind == "choice":
            widget = widgets.Dropdown(options=list(spec.options), value=current if current in spec.options else spec.options[0],
                                      description=label, style=style, layout=layout)
        elif spec.kind == "bool":
            widget = widgets.Checkbox(value=bool(current), description=label, style=style, indent=False)
        elif spec.kind == "number":
            widget = widgets.FloatText(value=float(current or 0), description=label, style=style, layout=layout)
        else:
            if isinstance(current, (list, tuple)):
                value = ", ".join(map(str, current))
            else:
                value = "" if current is None else str(current)
            widget = widgets.Text(value=value, description=label, placeholder=_(spec.placeholder),
                                  continuous_update=True, style=style, layout=layout)
        widget.add_class(spec.css)
        return widget

    # -- validation ---------------------------------------------------------------------------
    def _set_message(self, spec: Field, text: str, ok: bool, *, colour: str | None = None) -> None:
        colour = colour or (OK_COLOUR if ok else ERROR_COLOUR)
        self.messages[spec.name].value = f'<span style="color:{colour}">{escape_text(text)}</span>' if text else ""
        widget = self.inputs[spec.name]
        if ok:
            widget.remove_class("playbook-invalid")
        else:
            widget.add_class("playbook-invalid")

    def _validate_field(self, spec: Field) -> str:
        problem = check_value(spec, self.inputs[spec.name].value)
        warning = "" if problem else self.field_warning(spec, self.inputs[spec.name].value)
        if warning:
            self._set_message(spec, warning, ok=True, colour=WARNING_COLOUR)  # said, not refused
        else:
            self._set_message(spec, problem, ok=not problem)
        return problem

    def field_warning(self, spec: Field, value: Any) -> str:
        """A warning for an acceptable value (04: a callback Meta cannot reach); '' when none."""
        if spec.name == "callback_url" and str(value or "").strip():
            return " ".join(callback_warnings(str(value).strip(), to_meta=self.step.talks_to_meta))
        return ""

    def _secret_typed(self, spec: Field, change: dict) -> None:
        value = change["new"]
        if not value:
            return  # the field was cleared (by us, or by the user)
        problem = check_secret(spec, value)
        env = env_name_of(self.step.params, spec.name)
        if not problem:
            try:
                env = validate.env_name(env, spec.name)
            except ConfigError as exc:
                problem = str(exc)
        if not problem:
            os.environ[env] = value.strip()
        self.inputs[spec.name].value = ""  # never keep a secret in the widget
        if problem:
            self._set_message(spec, problem, ok=False)
        else:
            self._set_message(spec, _("stored in ${env} for this kernel (the field was cleared)").format(env=env),
                              ok=True)

    def _show_secret_state(self, spec: Field) -> None:
        env = env_name_of(self.step.params, spec.name)
        if os.environ.get(env, "").strip():
            self._set_message(spec, _("${env} is set").format(env=env), ok=True)
        elif spec.required:
            self._set_message(spec, _("${env} is not set: type the value here").format(env=env), ok=False)

    def problems(self) -> list[str]:
        """Everything to fix before running (also shown next to each field)."""
        found = []
        for spec in self.fields.values():
            if spec.secret:
                env = env_name_of(self.step.params, spec.name)
                if spec.required and not os.environ.get(env, "").strip():
                    self._set_message(spec, _("${env} is not set: type the value here").format(env=env), ok=False)
                    found.append(_("{label}: ${env} is not set").format(label=_(spec.label), env=env))
                continue
            problem = self._validate_field(spec)
            if problem:
                found.append(f"{_(spec.label)}: {problem}")
        return found

    def values(self) -> dict[str, Any]:
        """The non-secret fields as step parameters."""
        out: dict[str, Any] = {}
        for name, spec in self.fields.items():
            if spec.secret:
                continue
            value = self.inputs[name].value
            if spec.kind == "list":
                value = [v.strip() for v in str(value).split(",") if v.strip()]
            elif spec.kind in ("id", "phone", "text", "url", "code", "region"):
                value = str(value).strip()
                if spec.kind == "region":
                    value = value.upper()
            out[name] = value
        return out

    # -- running ------------------------------------------------------------------------------
    def run(self) -> Any:
        """Copy the fields into the step and run its action through the step; returns the result or None."""
        self.result, self.error = None, None
        problems = self.problems()
        if problems:
            self._summary(_("Fix the fields marked in red first."), ERROR_COLOUR)
            return None
        try:
            self.step.update(**self.values())
        except ConfigError as exc:
            self._summary(str(exc), ERROR_COLOUR)
            return None
        return self.run_action(self.on_run)

    def run_action(self, action: Callable[[Any], Any] | None) -> Any:
        """Run an action through the step into its result area (the summary follows from `_step_ran`)."""
        if action is None:
            self._summary(_("Saved. Run the cells below."), OK_COLOUR)
            return None
        self._summary(_("Running…"), "inherit")
        if not self.step.result_shown and self.output not in self.children:
            self.children = (*self.children, self.output)
        return self.step.run(action, from_form=True)

    def _step_ran(self, result: Any, error: BaseException | None) -> None:
        """After any run of the step (this form's Run or the action cell): the summary line, then the form's extras."""
        self.result, self.error = result, error
        if error is not None:
            self._summary(_("Failed: {summary}").format(summary=failure_summary(self.step.record.get("error"))),
                          ERROR_COLOUR)
        else:
            verdict = result.get("verdict") if isinstance(result, dict) else None
            ok = result.get("ok", True) if isinstance(result, dict) else True
            text = verdict or _("Done.")
            if self.step.finish_tried and self.step.acts_on_open:
                text = _("{verdict} (run the Verdict cell again to record it)").format(verdict=text)
            self._summary(text, OK_COLOUR if ok else ERROR_COLOUR)
        self.show_result(result)

    def _summary(self, text: str, colour: str) -> None:
        self.summary.value = f'<span style="color:{colour}">{escape_text(text)}</span>'

    def show_result(self, result: Any) -> None:
        """What a form adds after a run, beside the result area (06: the number picker). Nothing by default."""


def _is_styler(value: Any) -> bool:
    return type(value).__name__ == "Styler"


def _show(obj: Any) -> None:
    display(obj)


def escape_text(text: Any) -> str:
    """Text for an HTML widget's value: &, < and > escaped (quotes need not be, outside attributes)."""
    return html.escape(str(text), quote=False)

