"""Training scenarios: named YAML files under scenarios/ that break the seeded state on purpose.

Each file has name, title, description, try (what to run), expected_error, trainee_sees,
fix, and setup: a list of changes applied to the freshly reset state:
    - token: {env: WHATSAPP_TOKEN, <Token field>: value, expires_in: seconds}
    - business: {id: ..., <Business field>: value}
    - phone_number: {id: ..., <PhoneNumber field>: value, register_calls: N (made just now)}
    - window: {phone_number_id: ..., wa_id: ..., last_message_ago: seconds}
    - waba: {id: ..., <Waba field>: value}
    - fault: {kind, method?, path?, times?, error?}  (a fault rule, as POST /_sandbox/faults takes)

Besides the built-in files, catalogue() reads the *.yaml files of the folder named by the
environment variable PLAYBOOK_DRILLS_DIR (drills made from runs), listed beside the built-in ones.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import yaml

from .faults import FaultPlan
from .state import SandboxState

SCENARIO_DIR = Path(__file__).with_name("scenarios")
DRILLS_DIR_ENV = "PLAYBOOK_DRILLS_DIR"
PUBLIC_KEYS = ("name", "title", "description", "try", "expected_error", "trainee_sees", "fix")


class ScenarioError(ValueError):
    """An unknown scenario, or a setup step that does not fit the state."""


def scenario_dirs() -> list[Path]:
    """The built-in scenarios' folder, then PLAYBOOK_DRILLS_DIR's when set (a missing folder lists nothing)."""
    dirs = [SCENARIO_DIR]
    extra = os.environ.get(DRILLS_DIR_ENV, "").strip()
    if extra:
        dirs.append(Path(extra).expanduser())
    return dirs


def catalogue() -> dict[str, dict]:
    """Every scenario by name; a built-in name is never replaced by a drill file of the same name."""
    scenarios: dict[str, dict] = {}
    for folder in scenario_dirs():
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError):
                if folder == SCENARIO_DIR:
                    raise
                continue  # a half-written drill file must not hide the others
            if isinstance(data, dict) and data.get("name") and data["name"] not in scenarios:
                scenarios[str(data["name"])] = data
    return scenarios


def describe(scenario: dict) -> dict:
    """What a trainee (or a test) is told: everything but the setup."""
    return {key: scenario.get(key) for key in PUBLIC_KEYS}


def apply(state: SandboxState, demo_env: dict[str, str], setup: list[dict], faults: FaultPlan | None = None) -> None:
    """Break the freshly reset state as the setup says; `fault:` entries become rules of `faults`."""
    for step in setup or []:
        (kind, change), = step.items()
        change = dict(change)
        if kind == "token":
            env = change.pop("env")
            token = state.tokens.get(demo_env.get(env, ""))
            if token is None:
                raise ScenarioError(f"no token in {env}")
            if "expires_in" in change:
                change["expires_at"] = state.now() + float(change.pop("expires_in"))
            _update(token, change)
        elif kind == "business":
            _update(state.businesses[str(change.pop("id"))], change)
        elif kind == "phone_number":
            phone = state.phones[str(change.pop("id"))]
            calls = int(change.pop("register_calls", 0))
            phone.register_calls.extend([state.now()] * calls)
            _update(phone, change)
        elif kind == "waba":
            waba_id = str(change.pop("id"))
            if waba_id not in state.wabas:
                raise ScenarioError(f"no WABA {waba_id}")
            _update(state.wabas[waba_id], change)
        elif kind == "window":
            key = f"{change['phone_number_id']}:{change['wa_id']}"
            state.windows[key] = state.now() - float(change["last_message_ago"])
        elif kind == "fault":
            if faults is None:
                raise ScenarioError("a fault setup step needs the sandbox's fault plan")
            if "kind" not in change:
                raise ScenarioError("a fault setup step needs kind")
            faults.add_rule(str(change.pop("kind")), change.pop("method", None), change.pop("path", None),
                            change.pop("times", 1), change.pop("error", None))
            if change:
                raise ScenarioError(f"fault setup step: unknown keys {', '.join(change)}")
        else:
            raise ScenarioError(f"unknown setup step {kind!r}")


def _update(obj, change: dict) -> None:
    names = {f.name for f in dataclasses.fields(obj)}
    for key, value in change.items():
        if key not in names:
            raise ScenarioError(f"{type(obj).__name__} has no field {key!r}")
        setattr(obj, key, value)
