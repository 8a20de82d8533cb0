"""`Step`: one step notebook's run (parameters, Graph client, actions, result record) and its error display.

Record: ``{run_dir}/{step}.json`` with keys step, customer, status ("passed" | "failed"),
started_at, finished_at, duration_s, outputs (IDs for later steps), facts, error, graph_calls
(the Graph calls the step made, helpers.call_log), graph_url, api_version. Never a secret value: values of the environment variables the step names are
scrubbed from it before writing. Beside it, ``{run_dir}/journal/{step}.json``: the step's write journal
(helpers.steps.journal), which a retried or resumed step reads so that no write is doubled.

How a failure reads (its remedy, the error table, the IPython handler) is in `failures`; what the
result area shows is in `views`; the step actions themselves are in `actions`.

What happens outside the Graph API (the SMS with the code, the consumer's message) comes from
`step.peer` (helpers.peers): a person against Meta, or the peer that the process which started an
emulator named. Nothing here knows the sandbox.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import time
import traceback
from pathlib import Path
from typing import Any, Iterator, Mapping

import ipywidgets as widgets
import pandas as pd
from IPython.display import display as ipython_display

from .. import tables
from ..client import GraphClient
from ..errors import ConfigError, GraphAPIError, MissingSecretError, StepFailed, graph_reason
from ..remedies import own_remedy
from ..i18n import AND, N_, OR, _, joined, set_language
from ..peers import Peer, peer_for
from ..profiles import load_profile
from .. import parameters
from ..parameters import (ENV_FALLBACKS, env_name_of, PARAMS, SECRET_ENV_PARAMS, clean_params, notebook_parameters,
                          step_spec)
from .. import records
from . import display
from .failures import TERMS_REMEDY, install_failure_display, remedy_for, terms_not_accepted
from .views import error_view, graph_calls_html, result_view, run_hint

ROOT = Path(__file__).resolve().parents[2]
# Set to "voila" for the kernels of the trainees' app: a page then never acts on open (see Step.run).
APP_MODE_ENV = "PLAYBOOK_APP_MODE"


def app_mode() -> bool:
    """True in the Voila app (PLAYBOOK_APP_MODE=voila): the step acts only on the form's button."""
    return os.environ.get(APP_MODE_ENV, "").strip().lower() == "voila"


# ---- small utilities -------------------------------------------------------------------------
def _json_default(value: Any) -> Any:
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if hasattr(value, "item"):
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, pd.DataFrame):
        return json.loads(value.to_json(orient="records", date_format="iso"))
    return str(value)


def _resolve_path(text: str) -> Path:
    path = Path(text).expanduser()
    if path.is_absolute() or path.exists():
        return path
    for base in (ROOT, ROOT / "notebooks"):
        if (base / path).exists():
            return base / path
    return path


# Where a parameter's value came from (Step.sources), as the parameters table says it.
SOURCE_WORDS = (N_("given"), N_("default"), N_("profile"), N_("earlier step"), N_("env"), N_("form"))
PARAMETER_COLUMNS = (N_("parameter"), N_("value"), N_("from"))  # the table's headers, translated by tables.show


# ---- the Step --------------------------------------------------------------------------------
class Step:
    """One step notebook's run: its parameters, Graph client, actions and result record."""

    def __init__(self, name: str, params: dict[str, Any], *, profile: Mapping[str, Any] | None = None,
                 sources: Mapping[str, str] | None = None, peer: Peer | None = None) -> None:
        self.name = name
        self.spec = step_spec(name)
        self.params = dict(params)
        self.profile = dict(profile or {})
        self.sources = dict(sources or {})
        self.customer = str(self.profile.get("customer") or "adhoc")
        self._started = time.monotonic()
        self.record: dict[str, Any] = records.new(name, self.customer, started_at=records.now_iso(),
                                                  graph_url=self.params.get("graph_url"),
                                                  api_version=self.params.get("api_version"))
        self._client: GraphClient | None = None
        self._client_key: tuple | None = None
        self._given_peer = peer
        self._peer: Peer | None = None
        self._peer_for: str | None = None
        self.check_remedy: str | None = None  # what to do when the final check fails, when the step knows better
        self._calls_seen = 0  # the current client's last call already copied into record["graph_calls"]
        self._calls_shown = 0  # how many of record["graph_calls"] the notebook has shown
        # One result per action: `run` (the action cell, the form's Run) shows it in one area, from one state.
        self.acts_on_open = True
        self.last_result: Any = None
        self.last_error: BaseException | None = None
        self.last_calls: list[dict[str, Any]] = []  # the Graph calls of the last run (shown below its result)
        self.failure_tables: list[tuple[str, Any]] = []  # (heading, table) a failing action leaves for its error view
        self.ran = False
        self.result_shown = False  # the result area is on the page (the action cell showed it)
        self.finish_tried = False  # the verdict cell ran (a later Run makes its output stale)
        self._result_area: Any = None
        self._result_handle: Any = None
        self._in_run = False
        self._listeners: list = []
        self._journal = None  # the write journal when there is no run_dir to keep it in (helpers.steps.journal)
        install_failure_display(self)

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def start(cls, name: str, namespace: Mapping[str, Any], *, show: bool = True, peer: Peer | None = None) -> "Step":
        """Read parameters from the notebook's namespace (or a dict), fill and validate them.

        A parameter left at its default takes, in order: the profile's value, an earlier step's
        output recorded in run_dir, a PLAYBOOK_* environment variable (profile, graph_url,
        run_dir, callback_url, webhook_db). Headless runs (interactive=False) must have every
        required ID and secret; interactive ones may fill them in the form. `peer`, when given,
        is used instead of `peer_for(graph_url)` (a caller that knows who plays the other side).
        Raises ConfigError (after writing a failed record when run_dir is known).
        """
        declared = [p.name for p in notebook_parameters(name)]
        names = declared + [n for n in PARAMS if n in namespace and n not in declared]
        raw = {n: namespace.get(n, PARAMS[n].default) for n in names}
        sources = {n: ("given" if not _same(raw[n], PARAMS[n].default) else "default") for n in names}
        step = cls(name, raw, sources=sources, peer=peer)
        step.acts_on_open = not app_mode()
        try:
            step._fill_and_validate()
        except ConfigError as exc:
            step.record_failure(exc, _("check the parameters"))
            raise
        # The kernel speaks the step's language from here on (empty: PLAYBOOK_LANGUAGE, else English).
        set_language(step.params.get("language") or None)
        if show:
            step.show_parameters()
        if not step.params["interactive"]:
            try:
                step.check_ready()
            except ConfigError as exc:
                step.record_failure(exc, _("check the parameters"))
                raise
        else:
            missing = step.missing()
            if missing:
                display.markdown(_("**To fill in the form below:** {missing}").format(missing="; ".join(missing)))
        return step

    def _fill_and_validate(self) -> None:
        params, sources = self.params, self.sources
        if sources.get("profile") == "default" and os.environ.get(ENV_FALLBACKS["profile"]):
            params["profile"], sources["profile"] = os.environ[ENV_FALLBACKS["profile"]], "env"
        if params.get("profile"):
            self.profile = load_profile(_resolve_path(str(params["profile"])))
            self.customer = str(self.profile.get("customer"))
            self.record["customer"] = self.customer
            for key in params:
                if sources[key] == "default" and not parameters.is_empty(self.profile.get(key)):
                    params[key], sources[key] = self.profile[key], "profile"
        if sources.get("run_dir") == "default" and os.environ.get(ENV_FALLBACKS["run_dir"]):
            params["run_dir"], sources["run_dir"] = os.environ[ENV_FALLBACKS["run_dir"]], "env"
        for key, value in self.earlier_outputs().items():
            if key in params and sources[key] == "default":
                params[key], sources[key] = value, "earlier step"
        for key, env in ENV_FALLBACKS.items():
            if key in params and sources[key] == "default" and os.environ.get(env):
                params[key], sources[key] = os.environ[env], "env"
        self.params = clean_params(params)
        self.record["graph_url"] = self.params.get("graph_url")
        self.record["api_version"] = self.params.get("api_version")

    def earlier_outputs(self) -> dict[str, Any]:
        """Outputs of the passed records of earlier steps in run_dir (later steps win)."""
        run_dir = self.params.get("run_dir")
        if not run_dir or not Path(run_dir).is_dir():
            return {}
        merged: dict[str, Any] = {}
        for path in sorted(Path(run_dir).glob("[0-9][0-9]*_*.json")):
            if path.stem >= self.name:
                continue
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if record.get("status") == "passed":
                merged.update(record.get("outputs") or {})
        return merged

    def missing(self) -> list[str]:
        """What a headless run would refuse: required IDs and unset secret variables, as sentences."""
        return self._readiness()[0]

    def _readiness(self) -> tuple[list[str], list[str]]:
        """(the problems `missing` says, the unset secret variables among them, in order)."""
        problems: list[str] = []
        unset: list[str] = []

        def secret(env_param: str) -> None:
            name = str(self.params.get(env_param))
            problem = parameters.secret_problem(env_param, name, os.environ)
            if problem:
                problems.append(problem)
                if not os.environ.get(name, "").strip():
                    unset.append(name)

        for name in (self.spec.required if self.spec.applies(self.params) else ()):
            if parameters.is_empty(self.params.get(name)):
                problems.append(_("{name} is empty ({help})").format(name=name, help=PARAMS[name].help))
        for group in self.spec.one_of:
            if not any(all(not parameters.is_empty(self.params.get(n)) for n in option.split("+")) for option in group):
                choices = joined((joined(option.split("+"), AND) for option in group), OR)
                problems.append(_("{choices} must be given").format(choices=choices))
        for env_param in (self.spec.secrets if self.spec.applies(self.params) else ()):
            if env_param == "token_env" and self.params.get("signup_code"):
                continue  # the code exchange puts the token there
            secret(env_param)
        if self.params.get("signup_code"):
            if parameters.is_empty(self.params.get("app_id")):
                problems.append(_("app_id is empty (needed to exchange signup_code)"))
            secret("app_secret_env")
        return problems, unset

    def check_ready(self) -> None:
        """ConfigError listing everything missing for this step (before any network call)."""
        problems, unset = self._readiness()
        if problems:
            exc = ConfigError(_("{step} cannot run: {problems}.").format(step=self.name, problems="; ".join(problems)))
            # Unset variables get the advice for setting them (export ..., or the form's field).
            exc.env_names = unset
            exc.only_env = len(exc.env_names) == len(problems)
            raise exc

    def require(self, *names: str) -> list[Any]:
        """The values of these parameters; ConfigError naming the empty ones."""
        empty = [n for n in names if parameters.is_empty(self.params.get(n))]
        if empty:
            message = (_("{names} is empty: set it in the form, the profile or the parameters.") if len(empty) == 1
                       else _("{names} are empty: set them in the form, the profile or the parameters."))
            raise ConfigError(message.format(names=", ".join(empty)))
        return [self.params[n] for n in names]

    def update(self, **values: Any) -> None:
        """Change parameters (the form does this before running); validated like at start."""
        merged = {**self.params, **values}
        self.params = clean_params(merged)
        for key in values:
            self.sources[key] = "form"

    # -- what the step talks to ----------------------------------------------------------------
    @property
    def client(self) -> GraphClient:
        """The Graph client for the current graph_url / api_version / token_env (built on first use)."""
        key = (self.params["graph_url"], self.params["api_version"], self.params["token_env"])
        if self._client is None or self._client_key != key:
            self.collect_graph_calls()  # the old client's calls belong to this step too
            self._client = GraphClient(graph_url=key[0], api_version=key[1], token_env=key[2])
            # Every secret this step names: the call log refers to them as $NAME, whichever operation sends them.
            self._client.refer_secrets(*(str(self.params.get(k) or "") for k in SECRET_ENV_PARAMS))
            self._client_key, self._calls_seen = key, 0
        return self._client

    def collect_graph_calls(self) -> list[dict[str, Any]]:
        """Copy the client's calls made since the last look into record["graph_calls"]; returns the list."""
        calls = self.record.setdefault("graph_calls", [])
        if self._client is not None:
            new = self._client.calls_since(self._calls_seen)
            if new:
                self._calls_seen = new[-1]["seq"]
                calls.extend({k: v for k, v in c.items() if k != "seq"} for c in new)
        return calls

    def show_graph_calls(self, *, only_new: bool = False) -> None:
        """The step's Graph calls below its result: a compact table, and the curl lines to copy.

        `only_new`: just the calls not shown yet (a failed attempt's, before the next one)."""
        calls = self.collect_graph_calls()
        shown = calls[self._calls_shown:] if only_new else calls
        self._calls_shown = len(calls)
        if shown:
            display.html(graph_calls_html(shown))

    @property
    def peer(self) -> Peer:
        """Who reads the SMS and plays the consumer: the given peer, else peer_for(graph_url) (a person by default)."""
        if self._given_peer is not None:
            return self._given_peer
        url = self.params["graph_url"]
        if self._peer is None or self._peer_for != url:
            self._peer, self._peer_for = peer_for(url), url
        return self._peer

    # -- actions, outputs, records ---------------------------------------------------------------
    @contextlib.contextmanager
    def action(self, label: str) -> Iterator["Step"]:
        """Run a block as one named action: on error, record it, show it, write the record, re-raise."""
        started = time.monotonic()
        entry = {"action": label, "status": "running"}
        self.record["facts"].setdefault("actions", []).append(entry)
        try:
            yield self
        except Exception as exc:
            entry.update(status="failed", duration_s=round(time.monotonic() - started, 3))
            if not getattr(exc, "_playbook_recorded", False):
                self.record_failure(exc, label)
            raise
        entry.update(status="done", duration_s=round(time.monotonic() - started, 3))

    def retry(self) -> None:
        """Forget an earlier failure before running the step's action again (form Run, re-run cell)."""
        if self.record["status"] == "failed":
            self.record.update(status="running", error=None, finished_at=None, duration_s=None)
            self.record["facts"].pop("failed_action", None)

    def output(self, **values: Any) -> None:
        """IDs found or created: later steps receive these as parameters."""
        for key, value in values.items():
            if value is None:
                continue
            self.record["outputs"][key] = value
            if key in PARAMS:
                self.params[key] = value

    def fact(self, **facts: Any) -> None:
        """Details for the record and the batch summary (statuses, counts, verdicts)."""
        self.record["facts"].update(facts)

    def finish(self, ok: bool | None = None, verdict: str | None = None) -> dict[str, Any] | None:
        """The last cell: assert the step succeeded, write the "passed" record, show the verdict.

        Without arguments, ok and verdict come from the last `run`. In the app (acts_on_open False)
        before any Run, there is nothing to judge yet: shows nothing and returns None.
        """
        if ok is None and verdict is None:
            if not self.ran and not self.acts_on_open:
                return None
            result = self.last_result if isinstance(self.last_result, Mapping) else {}
            ok, verdict = bool(result.get("ok", True)), str(result.get("verdict") or "")
        ok = True if ok is None else ok
        verdict = verdict or ""
        self.finish_tried = True
        if self.record["status"] == "failed":
            earlier = StepFailed(_("{step} failed earlier: {message}").format(
                step=self.name, message=(self.record["error"] or {}).get("message")))
            earlier._playbook_recorded = True  # type: ignore[attr-defined]
            earlier._playbook_earlier = True  # type: ignore[attr-defined]  # its block is already shown above
            raise earlier
        if not ok:
            exc = StepFailed(verdict or _("{step} did not succeed").format(step=self.name))
            self.record_failure(exc, _("final check"), error={"type": "StepCheckFailed", "message": verdict,
                                                     **({"remedy": self.check_remedy} if self.check_remedy else {})})
            raise exc
        self.record["status"] = "passed"
        self._close()
        if verdict:
            self.fact(verdict=verdict)
        self.write()
        display.markdown("### ✅ " + _("{step}: passed").format(step=self.name) + f"\n{verdict}")
        if not self.ran:  # a step that used `run` showed its calls below its result
            self.show_graph_calls()
        return self.record

    # -- one result per action -----------------------------------------------------------------
    def run(self, action: Any, *, from_form: bool = False) -> Any:
        """Run the step's action (`action(step)`) and show its result in the step's one result area.

        The action cell calls it (``result = step.run(steps.register)``), and so does the form's Run
        (from_form=True), so both show the same result once, in the same place. When the step does
        not act on open (the Voila app) the cell makes no call: it shows one line saying to press Run.
        A failure is recorded and shown there as the error block; it is re-raised only headless
        (interactive=False), so that papermill fails the cell; in JupyterLab the cells below go on
        and the verdict cell says the step failed.
        """
        if not from_form and not self.acts_on_open:
            self._show(run_hint(action), new_cell=True)
            return None
        self.last_result, self.last_error, self.failure_tables = None, None, []
        calls_before = len(self.collect_graph_calls())
        result, error = None, None
        self._in_run = True  # _fail leaves the showing to the result area
        try:
            result = action(self)
        except Exception as exc:
            error = exc
            if not getattr(exc, "_playbook_recorded", False):
                self.record_failure(exc, _("the step"))
        finally:
            self._in_run = False
        self.last_result, self.last_error, self.ran = result, error, True
        self.last_calls = self.collect_graph_calls()[calls_before:]
        self._calls_shown = len(self.record["graph_calls"])  # the result area shows them
        self.show_result(new_cell=not from_form)
        self._notify()
        if error is not None and not (from_form or self.params.get("interactive")):
            raise error
        return result

    def on_result(self, listener: Any) -> None:
        """Call `listener(result, error)` after each run (the form updates its summary line this way)."""
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener(self.last_result, self.last_error)

    @property
    def result_area(self) -> Any:
        """The one area the step's result is shown in: an ipywidgets Output (class playbook-output)."""
        if self._result_area is None:
            self._result_area = widgets.Output()
            self._result_area.add_class("playbook-output")
            self._result_area.add_class("playbook-result")
        return self._result_area

    def show_result(self, *, new_cell: bool = False) -> None:
        """(Re)draw the last run's result, or its failure, in the result area."""
        self._show(result_view(self), new_cell=new_cell)

    def _show(self, objects: list[Any], *, new_cell: bool) -> None:
        if not self.params.get("interactive"):
            display.show(*objects)  # headless: plain outputs in the output notebook, no widget
            return
        area = self.result_area
        area.outputs = ()
        for obj in objects:
            area.append_display_data(obj)
        if new_cell:
            self._result_handle = ipython_display(area, display_id=True)
            self.result_shown = True

    def _close(self) -> None:
        self.record["finished_at"] = records.now_iso()
        self.record["duration_s"] = round(time.monotonic() - self._started, 3)

    def record_failure(self, exc: BaseException, label: str, error: dict | None = None) -> None:
        if isinstance(exc, GraphAPIError):
            error = exc.to_record()
            if terms_not_accepted(exc):
                error["remedy"] = _(TERMS_REMEDY)
                self.fact(terms_of_service_not_accepted=True)
        elif error is None:
            error = {"type": type(exc).__name__, "message": getattr(exc, "reason", None) or str(exc)}
            if isinstance(exc, MissingSecretError):
                error["env_name"] = exc.env_name
        error.setdefault("remedy", remedy_for(exc, error, self.where))
        if error.get("code") is None and not error.get("title"):  # our own kinds: the catalogue's title
            error["title"] = own_remedy(error.get("type")).title
        error["action"] = label
        # The whole traceback, for whoever debugs the playbook itself; the notebook shows the short block.
        if exc.__traceback__ is not None:
            error["traceback"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.record["error"] = error
        self.record["status"] = "failed"
        self.fact(failed_action=label)
        self._close()
        self.write()
        try:
            exc._playbook_recorded = True  # type: ignore[attr-defined]
        except AttributeError:
            pass
        if not self._in_run:  # inside `run` the result area shows it, calls included
            display.show(*error_view(self))
            self.show_graph_calls(only_new=True)

    @property
    def where(self) -> str:
        """Where the user reads a remedy: "lab" (the form is there) or "shell" (headless, a batch)."""
        return "lab" if self.params.get("interactive") else "shell"

    def failure_block(self, exc: BaseException | None = None) -> list[str]:
        """The failure in a few plain lines: what failed, why, what to do, the fbtrace_id; then one line.

        From the record when it holds this failure, else from the exception itself.
        """
        recorded = exc is None or getattr(exc, "_playbook_recorded", False)
        error = (self.record.get("error") or {}) if recorded else {}
        if not error and isinstance(exc, GraphAPIError):
            error = exc.to_record()
        reason = graph_reason(error) if error.get("code") is not None else (
            error.get("message") or getattr(exc, "reason", None) or str(exc))
        remedy = error.get("remedy") or remedy_for(exc, error, self.where)
        action = _(error.get("action") or N_("the step"))
        lines = [_("{step} failed at: {action}").format(step=self.name, action=action),
                 "  " + _("why:         {reason}").format(reason=reason),
                 "  " + _("what to do:  {remedy}").format(remedy=remedy)]
        if error.get("fbtrace_id"):
            lines.append(f"  fbtrace_id:  {error['fbtrace_id']}")
        lines.append(_("{step} failed: {reason}").format(step=self.name, reason=reason))
        return lines

    @property
    def record_path(self) -> Path | None:
        run_dir = self.params.get("run_dir")
        return Path(run_dir) / f"{self.name}.json" if run_dir else None

    def secret_values(self) -> list[str]:
        """Current values of the environment variables named by *_env parameters (given, profile or default)."""
        names = {str(n) for key in SECRET_ENV_PARAMS
                 for n in (self.params.get(key), self.profile.get(key), PARAMS[key].default) if n}
        values = [os.environ.get(n, "").strip() for n in names]
        return [v for v in values if len(v) >= 4]

    def record_json(self) -> str:
        self.collect_graph_calls()
        return records.dumps(self.record, self.secret_values(), default=_json_default)

    def write(self) -> Path | None:
        """Write the record (atomically) when run_dir is set; returns its path."""
        path = self.record_path
        self.collect_graph_calls()
        if path is None:
            return None
        return records.write(path, self.record, self.secret_values(), default=_json_default)

    # -- display ---------------------------------------------------------------------------------
    def parameters_table(self) -> pd.DataFrame:
        rows = []
        for key, value in self.params.items():
            if key in SECRET_ENV_PARAMS:
                name = env_name_of(self.params, key)
                value = value or _("(empty: {name})").format(name=name)
                shown = (_("{value} (set)") if name and os.environ.get(name, "").strip()
                         else _("{value} (NOT set)")).format(value=value)
            else:
                shown = value if not isinstance(value, list) else ", ".join(map(str, value))
            rows.append((key, shown, _(self.sources.get(key, ""))))  # SOURCE_WORDS
        return pd.DataFrame(rows, columns=["parameter", "value", "from"])

    def show_parameters(self) -> None:
        if not self.acts_on_open:
            return  # the Voila app's page has its own header, and the form shows the same values
        peer = self.peer_name()
        where = {"step": self.name, "part": _(self.spec.guide_part), "title": _(self.spec.title),
                 "customer": self.customer}
        if peer != "person":
            display.markdown(_("**{step}** ({part}: {title}) for customer **{customer}** — against the **{peer}**").format(
                **where, peer=peer))
        else:
            display.markdown(_("**{step}** ({part}: {title}) for customer **{customer}**").format(**where))
        display.show(tables.show(self.parameters_table()))

    @property
    def talks_to_meta(self) -> bool:
        """True when the Graph API is Meta's (a person plays the peer), not an emulator on this machine."""
        return self.peer_name() == "person"

    def peer_name(self) -> str:
        try:
            return self.peer.name
        except ConfigError:  # a misnamed PLAYBOOK_PEER: the action that needs the peer reports it
            return "person"

    def __repr__(self) -> str:
        return f"Step({self.name!r}, customer={self.customer!r}, status={self.record['status']!r})"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (isinstance(a, bool) and isinstance(b, bool) and a == b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


