"""The training drills that notebooks/training/scenarios.ipynb walks through, one per sandbox scenario.

A drill loads its scenario (the sandbox breaks one thing), attempts the step that meets it,
shows the error and its remedy, applies the fix and attempts again; `Drills` runs them against
the lab's sandbox (`make lab`) or any sandbox given by URL, and writes a record per drill.

    >>> drills = Drills()                # inside `make lab`: every argument from the lab's environment
    >>> drill = drills.start("wrong_pin")
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from .errors import PlaybookError
from .lab import DEFAULT_PROFILE, REPO_ROOT, training_context
from .profiles import load_profile


# ---- training drills (notebooks/training/) -------------------------------------------------------

class WebhookStatusFailed(PlaybookError):
    """A message the API accepted (HTTP 200, a wamid) that a status webhook then reported as failed."""

    def __init__(self, message_id: str, code: int | None, details: Any = None) -> None:
        from .remedies import lookup as lookup_remedy

        entry = lookup_remedy(code)
        self.message_id = message_id
        self.code = code
        self.subcode = None
        self.http_status = 200
        self.title = entry.title if entry else None
        self.details = details
        self.remedy = entry.remedy if entry else "Read the status webhook's errors[0] (code, title, details)."
        self.message = f"message {message_id} failed (status webhook): code {code} {self.title or ''}".strip()
        super().__init__(self.message)


def _show(text: str) -> None:
    try:
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        print(text)
        return
    display(Markdown(text))


def _quote(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)
    return text.replace("\n", " ")


def error_card(error: Any, remedy: str | None = None) -> str:
    """An error as Markdown: what Meta said and, in full, what to do about it."""
    code = getattr(error, "code", None)
    subcode = getattr(error, "subcode", None)
    lines = [f"**Error {code}{'/' + str(subcode) if subcode else ''}** · {getattr(error, 'title', None) or ''} "
             f"(HTTP {getattr(error, 'http_status', None)})", ""]
    for label, attribute in (("message", "message"), ("details", "details")):
        value = getattr(error, attribute, None)
        if value:
            lines.append(f"> **{label}:** {_quote(value)}  ")
    lines += ["", f"**What to do:** {remedy or getattr(error, 'remedy', '')}"]
    return "\n".join(lines)


class Drills:
    """The sandbox's training scenarios, one drill each, against the sandbox at `graph_url`.

    A drill loads its scenario (the sandbox resets, then breaks one thing), attempts the step
    that trips over it, shows the error and its remedy, applies the fix, attempts again, and
    writes a record to `run_dir/training/<scenario>.json`. Inside `make lab` every argument
    has a default from the lab's environment.

    Loading a scenario resets the whole sandbox: progress made in the step notebooks starts over.
    """

    def __init__(self, *, graph_url: str = "", profile: str = "", run_dir: str = "", callback_url: str = "",
                 webhook_db: str = "", api_version: str = "") -> None:
        from .client import GraphClient
        from .errors import ConfigError
        from .sandbox.peer import SandboxPeer
        from .versions import DEFAULT_API_VERSION

        context = training_context()
        self.graph_url = graph_url or context.get("sandbox_url") or context.get("graph_url") or ""
        if not self.graph_url:
            raise ConfigError("graph_url is empty: start the lab with `make lab`, or give the sandbox's URL "
                              "(python -m helpers sandbox prints it).")
        # Drills drive the sandbox itself (scenarios, tokens, clock), so they hold its control API; the
        # steps they run get it only as their peer, as under the lab or the runner.
        self.peer = SandboxPeer(self.graph_url)
        self.control = self.peer.control
        try:
            self.control.now()
        except Exception:
            raise ConfigError(f"{self.graph_url} is not the playbook's sandbox (no /_sandbox/ control API there): "
                              "the drills break things on purpose and run only against the sandbox.") from None
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
        self._baseline = {name: os.environ.get(name) for name in self._env_names}
        self._callback_url = callback_url or context.get("callback_url", "")
        self._webhook_db = webhook_db or context.get("webhook_db", "")
        self._receiver = None
        self.records: list[dict[str, Any]] = []

    def scenarios(self):
        """The sandbox's scenarios: name, title, the error a trainee meets, and where."""
        import pandas as pd

        rows = []
        for s in self.control.scenarios():
            expected = s.get("expected_error") or {}
            rows.append({"scenario": s["name"], "title": s.get("title"),
                         "code": expected.get("code"), "subcode": expected.get("subcode"),
                         "where": expected.get("where", f"HTTP {expected.get('http_status')}")})
        return pd.DataFrame(rows, columns=["scenario", "title", "code", "subcode", "where"])

    def start(self, name: str) -> "Drill":
        for env, value in self._baseline.items():
            if value is None:
                os.environ.pop(env, None)
            else:
                os.environ[env] = value
        return Drill(self, name)

    def webhooks(self):
        """(callback_url, WebhookStore): the lab's receiver, else one started in this kernel."""
        from .webhooks import WebhookReceiver, WebhookStore

        if self._callback_url and self._webhook_db:
            return self._callback_url, WebhookStore(self._webhook_db)
        if self._receiver is None:
            db = self.records_dir / "webhooks.sqlite"
            self._receiver = WebhookReceiver(db, verify_token_env=self.profile["verify_token_env"],
                                             app_secret_env=self.profile["app_secret_env"]).start()
        return self._receiver.callback_url, self._receiver.store

    def summary(self):
        """One row per drill run: the error expected, the one met, and whether the fix worked."""
        import pandas as pd

        columns = ["scenario", "expected_code", "observed_code", "fix_worked", "status"]
        return pd.DataFrame([{k: r.get(k) for k in columns} for r in self.records], columns=columns)

    def close(self) -> None:
        if self._receiver is not None:
            self._receiver.stop()
            self._receiver = None
        self.control.close()


class Drill:
    """One scenario: load → attempt (meet the error) → fix → retry → finish (record, verdict)."""

    def __init__(self, drills: Drills, name: str) -> None:
        self.drills = drills
        self.name = name
        self.scenario = drills.control.load_scenario(name)
        expected = self.scenario.get("expected_error") or {}
        self.expected_code = expected.get("code")
        self.error: Any = None
        self.record: dict[str, Any] = {
            "scenario": name, "title": self.scenario.get("title"), "status": "running",
            "expected_code": self.expected_code, "expected_subcode": expected.get("subcode"),
            "observed_code": None, "observed_subcode": None, "http_status": None, "remedy": None,
            "fix": None, "fix_worked": False, "retry_verdict": None,
        }
        _show(f"### Scenario `{name}`: {self.scenario.get('title')}\n\n"
              f"**What is broken:** {_quote(self.scenario.get('description'))}\n\n"
              f"**Try:** {_quote(self.scenario.get('try'))}\n\n"
              f"**Expect:** error {self.expected_code}"
              + (f"/{expected.get('subcode')}" if expected.get("subcode") else "")
              + (f" ({expected['where']})" if expected.get("where") else ""))

    @property
    def client(self):
        return self.drills.client

    @property
    def profile(self) -> dict[str, Any]:
        return self.drills.profile

    def step(self, step_name: str, **overrides: Any):
        """A step as its notebook runs it (headless), on this drill's run folder."""
        from . import steps

        params = {"profile": str(self.drills.profile_path), "graph_url": self.drills.graph_url,
                  "api_version": self.drills.api_version, "interactive": False,
                  "run_dir": str(self.drills.run_dir / self.name), **overrides}
        return steps.Step.start(step_name, params, show=False, peer=self.drills.peer)

    def run_step(self, step_name: str, action: Callable[[Any], dict[str, Any]], **overrides: Any) -> dict[str, Any]:
        """Run a step's action and its last cell (finish: asserts success, writes the passed record)."""
        step = self.step(step_name, **overrides)
        result = action(step)
        step.finish(result["ok"], result["verdict"])
        return result

    def attempt(self, action: Callable[[], Any]) -> Any:
        """Run the step that meets the broken thing; returns (and shows) the error it raised."""
        from . import steps
        from .errors import GraphAPIError
        from .remedies import lookup as lookup_remedy

        try:
            action()
        except (GraphAPIError, WebhookStatusFailed) as exc:
            self.error = exc
            remedy = exc.remedy
            if steps.terms_not_accepted(exc):  # a generic 200 whose details name the Terms of Service
                remedy = steps.TERMS_REMEDY
            elif lookup_remedy(exc.code, exc.subcode) is None:  # not in the catalogue: the scenario's own fix
                remedy = _quote(self.scenario.get("fix"))
            self.record.update(observed_code=exc.code, observed_subcode=exc.subcode, http_status=exc.http_status,
                               remedy=remedy, message=str(getattr(exc, "message", "")))
            matched = exc.code == self.expected_code
            _show(error_card(exc, remedy) + "\n\n" + (f"✅ This is the error the scenario teaches ({self.expected_code})."
                                              if matched else f"⚠️ Expected error {self.expected_code}, met {exc.code}."))
            return exc
        _show(f"⚠️ No error: expected {self.expected_code}. Was the scenario loaded?")
        return None

    def fix(self, description: str, action: Callable[[], Any]) -> None:
        """Apply the fix the remedy describes (in the sandbox, what a person does in Meta's UIs)."""
        action()
        self.record["fix"] = description
        _show(f"🔧 **Fix applied:** {description}")

    def retry(self, action: Callable[[], Any]) -> Any:
        """Run the step again; it must pass now."""
        try:
            result = action()
        except Exception as exc:
            self.record.update(fix_worked=False, retry_verdict=f"still failing: {exc}")
            self._write("failed")
            raise
        ok = result.get("ok", True) if isinstance(result, dict) else True
        verdict = result.get("verdict") if isinstance(result, dict) else None
        self.record.update(fix_worked=bool(ok), retry_verdict=verdict or ("passed" if ok else "did not pass"))
        _show(("✅ **Passes after the fix**" if ok else "❌ **Still not passing**") + (f": {verdict}" if verdict else ""))
        return result

    def new_system_user_token(self, scopes: list[str] | None = None) -> str:
        """Business settings > System users > Generate token (both WhatsApp scopes, every asset), into token_env.

        Returns the variable's NAME; the token itself is never shown.
        """
        token = self.drills.control.generate_token(self.profile["business_id"], self.profile["app_id"], scopes=scopes)
        os.environ[self.profile["token_env"]] = token
        return self.profile["token_env"]

    def connect_webhooks(self) -> str:
        """Save the receiver as the app's callback and subscribe the app to the WABA; returns the callback URL."""
        from . import operations as ops

        callback_url, _store = self.drills.webhooks()
        ops.set_app_webhook(self.client, app_id=self.profile["app_id"], app_secret_env=self.profile["app_secret_env"],
                            callback_url=callback_url, verify_token_env=self.profile["verify_token_env"])
        ops.subscribe_app(self.client, self.profile["waba_id"])
        return callback_url

    def send_text_and_follow(self, phone_number_id: str, to: str, text: str, timeout: float = 30.0) -> dict[str, Any]:
        """Send a free-form text and follow its statuses; a failed status raises WebhookStatusFailed."""
        from . import operations as ops

        _callback, store = self.drills.webhooks()
        wamid = ops.message_id(ops.send_text(self.client, phone_number_id, to, text))
        final = store.wait_for_status(wamid, "delivered", timeout=timeout)
        if final["status"] == "failed":
            code = final.get("error_code")
            raise WebhookStatusFailed(wamid, int(code) if code is not None else None, final.get("errors"))
        return {"ok": True, "verdict": f"text {wamid[:20]}… reached '{final['status']}'"}

    def finish(self) -> dict[str, Any]:
        """Write the drill's record; passes when the expected error was met and the fix worked."""
        expected_subcode = self.record["expected_subcode"]
        met = self.record["observed_code"] == self.expected_code and (
            expected_subcode is None or self.record["observed_subcode"] == expected_subcode)
        status = "passed" if met and self.record["fix_worked"] else "failed"
        self._write(status)
        if status != "passed":
            raise AssertionError(f"drill {self.name}: expected error {self.expected_code}, met "
                                 f"{self.record['observed_code']}; fix worked: {self.record['fix_worked']}")
        _show(f"**Drill `{self.name}` done:** met {self.expected_code}, fixed it, and the step passes.")
        return self.record

    def _write(self, status: str) -> None:
        self.record["status"] = status
        self.drills.records = [r for r in self.drills.records if r["scenario"] != self.name] + [self.record]
        path = self.drills.records_dir / f"{self.name}.json"
        path.write_text(json.dumps(self.record, indent=2, default=str, ensure_ascii=False), encoding="utf-8")
