"""The preflight of `python -m helpers run`, as a user meets it: the command as a subprocess, exit
status 2, the exact first line, no folder under --out and no request at the Graph URL (a
recording server on 127.0.0.1). Also: the parameter registry is the one source of the rules."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fakes import FAKE_APP_SECRET, FAKE_PIN, FAKE_TOKEN
from helpers import parameters, profiles
from helpers.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
SECRETS = {"PF_TOKEN": FAKE_TOKEN, "PF_PIN": FAKE_PIN, "PF_APP_SECRET": FAKE_APP_SECRET,
           "PF_VERIFY_TOKEN": "fake-verify-token-0001"}


def _profile(folder: Path, graph_url: str, slug: str = "pf", **extra: str) -> Path:
    lines = {"customer": slug, "graph_url": graph_url, "waba_id": "200000000000001", "app_id": "300000000000001",
             "display_phone_number": "+1 555-010-0001", "consumer_number": "+16505550100", "token_env": "PF_TOKEN",
             "pin_env": "PF_PIN", "app_secret_env": "PF_APP_SECRET", "verify_token_env": "PF_VERIFY_TOKEN", **extra}
    path = folder / f"{slug}.yaml"
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in lines.items()))
    return path


def _run(args: list, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("PF_")} | env
    return subprocess.run([sys.executable, "-m", "helpers", "run", *map(str, args)], capture_output=True, text=True,
                          env=full | {"PYTHONPATH": str(ROOT)}, cwd=cwd, timeout=60)


def _refused(result: subprocess.CompletedProcess, out: Path, graph) -> list[str]:
    assert result.returncode == 2, result.stderr
    assert not out.exists() or not any(out.iterdir()), "the preflight must write nothing"
    assert graph.seen == [], "no request may reach the Graph URL"
    return result.stderr.splitlines()


@pytest.mark.parametrize("env_change, extra, first_line", [
    ({"PF_PIN": None}, {},
     "error: pf: environment variable PF_PIN (named by pin_env) is not set: export PF_PIN=... (the number's "
     "6-digit PIN) before the run."),
    ({"PF_PIN": "12345"}, {},
     "error: pf: the two-step verification PIN in PF_PIN (named by pin_env) must be exactly 6 digits: export "
     "PF_PIN=... (the number's 6-digit PIN) before the run."),
    ({"PF_TOKEN": "FAKE TOKEN with spaces"}, {},
     "error: pf: the access token in PF_TOKEN (named by token_env) must be one token without spaces or line breaks: "
     "export PF_TOKEN=... (the access token) before the run."),
    ({}, {"api_version": "v99.0"},
     "error: pf: api_version v99.0 is not a version Meta has published (latest known v27.0); "
     "use v25.0."),
    ({}, {"api_version": "v19.0"},
     "error: pf: api_version v19.0 expired on 2026-05-21; Meta now serves such calls as the next-oldest usable "
     "version, so behaviour may change under you. Use v25.0."),
])
def test_bad_input_is_refused_before_anything_starts(scripted, tmp_path, env_change, extra, first_line):
    profile = _profile(tmp_path, scripted.url, **extra)
    env = {k: v for k, v in (SECRETS | env_change).items() if v is not None}
    out = tmp_path / "runs"
    lines = _refused(_run([profile, "--out", out], env, tmp_path), out, scripted)
    assert lines[0] == first_line
    assert lines[-1].startswith("preflight: ") and lines[-1].endswith("nothing was started or written.")
    assert all(v not in "\n".join(lines) for v in SECRETS.values()), "a secret's value was printed"


def test_every_problem_of_every_profile_is_reported_together(scripted, tmp_path):
    first = _profile(tmp_path, scripted.url, slug="one", pin_env="PF_MISSING_PIN")
    second = _profile(tmp_path, scripted.url, slug="two", token_env="PF_MISSING_TOKEN")
    out = tmp_path / "runs"
    lines = _refused(_run([first, second, "--out", out, "--steps", "08"], SECRETS, tmp_path), out, scripted)
    assert lines[0].startswith("error: one: environment variable PF_MISSING_PIN (named by pin_env) is not set")
    assert lines[1].startswith("error: two: environment variable PF_MISSING_TOKEN (named by token_env) is not set")
    assert lines[2] == "preflight: 2 problems; nothing was started or written."


def test_empty_steps_missing_seed_and_unreadable_resume(scripted, tmp_path):
    profile = _profile(tmp_path, scripted.url)
    out = tmp_path / "runs"
    lines = _refused(_run([profile, "--out", out, "--steps", ""], SECRETS, tmp_path), out, scripted)
    assert lines[0] == ("error: --steps is empty: name the steps to run (e.g. --steps 03,05-08), or leave --steps "
                        "out to run every step.")
    lines = _refused(_run([profile, "--out", out, "--sandbox-seed", tmp_path / "nope.yaml"], SECRETS, tmp_path),
                     out, scripted)
    assert lines[0] == (f"error: --sandbox-seed {tmp_path / 'nope.yaml'}: no such file; give a seed YAML "
                        "(docs/sandbox.md) or leave --sandbox-seed out for the built-in seed.")
    lines = _refused(_run([profile, "--out", out, "--resume", tmp_path / "gone"], SECRETS, tmp_path), out, scripted)
    assert lines[0] == (f"error: --resume {tmp_path / 'gone'}: cannot read {tmp_path / 'gone' / 'batch.json'} "
                        "(no such file); give a batch folder written by an earlier run, e.g. "
                        "runs/20250101-120000-abcd.")


def test_graph_url_that_does_not_answer(tmp_path):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    profile = _profile(tmp_path, url)
    out = tmp_path / "runs"
    result = _run([profile, "--out", out], SECRETS, tmp_path)
    assert result.returncode == 2 and not out.exists()
    assert result.stderr.splitlines()[0] == (
        f"error: pf: graph_url {url} does not answer (connection refused or host unknown): check the URL and the "
        "network, or run against the sandbox with --sandbox.")


def test_preflight_only_prints_readiness_and_probes_once(scripted, tmp_path):
    ready = _profile(tmp_path, scripted.url, slug="ready")
    out = tmp_path / "runs"
    result = _run([ready, "--out", out, "--preflight-only"], SECRETS, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["customer  ready  problems", "ready     yes    -"]
    assert len(scripted.seen) == 1 and scripted.seen[0].path == "/"  # the one probe; no Graph call
    assert not out.exists()
    broken = _profile(tmp_path, scripted.url, slug="broken", pin_env="PF_MISSING_PIN")
    result = _run([ready, broken, "--out", out, "--preflight-only"], SECRETS, tmp_path)
    assert result.returncode == 2 and not out.exists()
    assert result.stdout.splitlines()[2].startswith("broken    no     environment variable PF_MISSING_PIN")


def test_expiring_version_is_warned_once_without_a_source_line(scripted, tmp_path):
    first = _profile(tmp_path, scripted.url, slug="one", api_version="v21.0")
    second = _profile(tmp_path, scripted.url, slug="two", api_version="v21.0")
    result = _run([first, second, "--out", tmp_path / "runs", "--preflight-only"], SECRETS, tmp_path)
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if "v21.0" in line]
    assert len(warned) == 1 and warned[0].startswith("warning: api_version v21.0 expires on 2027-01-21")
    assert "ApiVersionWarning" not in result.stderr and "warnings.warn" not in result.stderr


# ---- the registry is the one source --------------------------------------------------------------
def test_every_notebook_parameters_cell_is_what_the_registry_renders():
    assert parameters.stale_notebooks() == [], "run: python -m helpers.parameters --write-notebooks"


def test_profile_and_notebook_cleaning_agree():
    raw = {"onboarding": "New", "compliance": "GDPR, SOC 2", "data_localization_region": "de"}
    assert profiles.validate_profile(raw) == parameters.clean_params(raw) == {
        "onboarding": "new", "compliance": ["GDPR", "SOC 2"], "data_localization_region": "DE"}
    assert profiles.ENV_KEYS == parameters.SECRET_ENV_PARAMS
    assert set(parameters.SECRET_ENV_PARAMS) == {k for k in parameters.PARAMS if k.endswith("_env")}
    with pytest.raises(ConfigError, match="verification_code must be the 6 digits"):
        parameters.clean("verification_code", "1234")


def test_forms_take_labels_from_the_registry():
    from helpers.forms.register import FIELDS
    from helpers.forms.specs import STEP_FIELDS
    for form_field in FIELDS + [f for fields in STEP_FIELDS.values() for f in fields]:
        assert form_field.label == parameters.PARAMS[form_field.name].label
        assert form_field.kind == parameters.PARAMS[form_field.name].kind


def test_07_needs_its_migration_secrets_only_when_migrating():
    spec = parameters.STEPS["07_migration"]
    assert spec.applies({"onboarding": "migrate"}) and not spec.applies({"onboarding": "new"})
    assert "backup_password_env" in spec.secrets and "backup_data" in spec.required


def test_graph_client_is_importable_from_helpers(scripted):
    from helpers import GraphClient
    from helpers.client import GraphClient as Defined
    assert GraphClient is Defined
    client = GraphClient(graph_url=scripted.url, api_version="v25.0", token_env="PF_UNSET_TOKEN_NOT_NEEDED")
    assert client is not None
