"""`make lab` / `python -m helpers lab|voila`: everything it starts answers, and stopping it ends all of it.

Each launch here is a real process tree: the launcher (with the sandbox in-process), the webhook
receiver, JupyterLab or Voila, and their kernels. A process belongs to a session when its
environment carries the supervisor tag (PLAYBOOK_SUPERVISOR_TAG=<id>), which is how orphans would be found.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from helpers.i18n import LANGUAGE_ENV, gettext
from helpers.lab import (DEFAULT_PROFILE, ENV_APP_MODE, ENV_PROFILE, SESSION_MARKER, STEP_LABELS, TRANSLATION_SETTINGS,
                         VOILA_WORDS, LabSession, localize_tree, session_processes, step_label, step_notebooks,
                         training_context)
from helpers.peers import ENV_PEER, ENV_PEER_URL
from helpers.profiles import load_profile
from helpers.sandbox import Sandbox
from notebook_fixtures import find_secrets

REPO_ROOT = Path(__file__).resolve().parent.parent
START_WAIT = 180.0  # a bound on a hang, not a timing check
STOP_WAIT = 60.0


def wait_for(condition, what: str, bound: float = START_WAIT, process: subprocess.Popen | None = None):
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the launcher exited ({process.returncode}) before {what}:\n{_output(process)}")
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


def _output(process: subprocess.Popen) -> str:
    try:
        out, _ = process.communicate(timeout=5)
        return out or ""
    except subprocess.TimeoutExpired:
        return ""


def launch(command: list[str], tmp_path: Path, **env) -> tuple[subprocess.Popen, dict]:
    """Start a launcher in its own process group (like a terminal job) and wait for its ready file."""
    ready = tmp_path / "ready.json"
    process = subprocess.Popen(
        command + ["--no-browser", "--workdir", str(tmp_path / "work"), "--ready-file", str(ready)],
        cwd=REPO_ROOT, env={**os.environ, **env}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True)
    info = wait_for(lambda: ready.exists() and json.loads(ready.read_text() or "null"), "the ready file", process=process)
    return process, info


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def assert_everything_stopped(process: subprocess.Popen, info: dict, expected_exit: tuple[int, ...] = (0,)) -> str:
    output, _ = process.communicate(timeout=STOP_WAIT)
    assert process.returncode in expected_exit, output
    for name, pid in info["pids"].items():
        assert not alive(pid), f"{name} (pid {pid}) still running after the launcher exited"
    assert session_processes(info["session"]) == [], "processes of the session outlived it"
    for url in (info["sandbox_url"], info["app_url"]):
        with pytest.raises(OSError):
            urllib.request.urlopen(url, timeout=5)
    return output


def secret_values() -> dict[str, str]:
    return {name: value for name, value in Sandbox().demo_env().items() if len(value) >= 4}


def test_make_lab_serves_jupyterlab_on_the_sandbox_and_ctrl_c_stops_everything(tmp_path):
    token = secrets.token_hex(16)
    ready = tmp_path / "ready.json"
    make_args = f"--no-browser --workdir {tmp_path / 'work'} --ready-file {ready}"
    # -o: use the environment as it is (the test run already installed it).
    process = subprocess.Popen(["make", "-s", "-o", ".venv/.runtime", "lab", f"LAB_ARGS={make_args}"], cwd=REPO_ROOT,
                               env={**os.environ, "JUPYTER_TOKEN": token}, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    info = wait_for(lambda: ready.exists() and json.loads(ready.read_text() or "null"), "the ready file", process=process)

    # Everything answers, and the profile points the notebooks at this session's servers.
    lab_url = info["app_url"].removesuffix("/lab")
    assert get(f"{lab_url}/api/status?token={token}") == 200
    assert get(f"{info['sandbox_url']}/_sandbox/scenarios") == 200
    assert get(info["callback_url"]) == 403  # the receiver refuses a handshake without the verify token
    profile = load_profile(info["profile"])
    assert profile["graph_url"] == info["sandbox_url"]
    assert profile["callback_url"] == info["callback_url"]
    assert profile["waba_id"] == load_profile(DEFAULT_PROFILE)["waba_id"]

    # A kernel started the way JupyterLab starts one gets the demo environment and the helpers on its path.
    request = urllib.request.Request(f"{lab_url}/api/kernels?token={token}", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 201
    kernels = wait_for(lambda: [pid for pid in session_processes(info["session"])
                                if b"ipykernel" in Path(f"/proc/{pid}/cmdline").read_bytes()], "the kernel process")
    kernel_env = dict(item.split("=", 1) for item in
                      Path(f"/proc/{kernels[0]}/environ").read_text(errors="replace").split("\0") if "=" in item)
    demo = Sandbox().demo_env()
    assert kernel_env["WHATSAPP_TOKEN"] == demo["WHATSAPP_TOKEN"]
    assert kernel_env[ENV_PROFILE] == info["profile"]
    assert kernel_env[ENV_PEER] == "helpers.sandbox.peer:SandboxPeer"  # steps get the SMS and consumer from it
    assert kernel_env[ENV_PEER_URL] == info["sandbox_url"]
    assert str(REPO_ROOT) in kernel_env["PYTHONPATH"].split(os.pathsep)

    # Nothing the session wrote holds a secret value.
    for path in (tmp_path / "work").rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".json", ".log"):
            assert find_secrets(path.read_text(errors="replace"), secret_values()) == [], f"a demo secret in {path}"

    # Ctrl-C in the terminal: SIGINT to the whole foreground group (make and the launcher).
    os.killpg(process.pid, signal.SIGINT)
    # make reports the interrupt by dying of SIGINT itself, after the launcher has cleaned up.
    output = assert_everything_stopped(process, {**info, "pids": {**info["pids"], "kernel": kernels[0]}},
                                       expected_exit=(0, -signal.SIGINT))
    assert "Stopped: app server, kernels, webhook receiver and sandbox." in output


def test_voila_app_serves_the_steps_and_sigterm_stops_everything(tmp_path):
    process, info = launch([sys.executable, "-m", "helpers", "voila"], tmp_path)
    assert info["app"] == "voila"
    with urllib.request.urlopen(info["app_url"], timeout=60) as response:
        home = response.read().decode()
    for step in step_notebooks():
        assert f"voila/render/{step['file']}" in home
    # Rendering a step starts its kernel; the page carries the steps as navigation.
    with urllib.request.urlopen(info["app_url"] + "voila/render/00_plan.ipynb", timeout=120) as response:
        page = response.read().decode()
    assert 'class="playbook-nav"' in page and "playbook-current" in page
    assert len(session_processes(info["session"])) >= 2  # the receiver, Voila (and the kernel)

    process.send_signal(signal.SIGTERM)  # what `kill`, systemd or make's own SIGTERM send
    assert_everything_stopped(process, info)


def test_a_child_that_dies_stops_the_whole_lab(tmp_path):
    process, info = launch([sys.executable, "-m", "helpers", "lab"], tmp_path)
    os.kill(info["pids"]["webhooks"], signal.SIGKILL)
    output = assert_everything_stopped(process, info, expected_exit=(1,))
    assert "webhooks exited" in output


def test_a_bad_profile_is_refused_before_anything_starts(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"customer": "bad", "token": "not-here"}))
    result = subprocess.run([sys.executable, "-m", "helpers", "lab", "--profile", str(bad), "--no-browser",
                             "--workdir", str(tmp_path / "work")], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert "token_env" in result.stderr  # says which key to use instead
    assert not (tmp_path / "work" / "logs").exists()


def test_kernels_read_the_training_context_from_the_environment(monkeypatch):
    monkeypatch.setenv(ENV_PROFILE, "/somewhere/training-profile.yaml")
    monkeypatch.setenv("PLAYBOOK_SANDBOX_URL", "http://127.0.0.1:1")
    monkeypatch.delenv("PLAYBOOK_WEBHOOK_DB", raising=False)
    context = training_context()
    assert context["profile"] == "/somewhere/training-profile.yaml"
    assert context["sandbox_url"] == "http://127.0.0.1:1"
    assert "webhook_db" not in context
    assert SESSION_MARKER.startswith("PLAYBOOK_")


def test_steps_are_listed_in_order_with_their_titles():
    steps = step_notebooks()
    assert [s["number"] for s in steps] == ["00", "01", "02", "03", "04", "05", "06", "07", "07a", "07b", "08", "09",
                                            "10", "11", "12", "13"]
    assert [s["label"] for s in steps if s["number"] in ("07a", "13")] == ["System user", "Go live"]
    assert all(s["title"] and not s["title"].startswith("#") for s in steps)


def test_step_files_may_carry_a_letter_after_the_number(tmp_path):
    for name in ("06_phone_numbers.ipynb", "07_migration.ipynb", "07a_system_user.ipynb", "11_business_profile.ipynb",
                 "notes.ipynb", "7_short.ipynb", "07A_upper.ipynb"):
        (tmp_path / name).write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": f"# {name[:3]} title"}]}))
    steps = step_notebooks(tmp_path)
    assert [s["number"] for s in steps] == ["06", "07", "07a", "11"]
    assert [s["label"] for s in steps] == ["Phone numbers", "Migration", "System user", "Business profile"]


def test_only_the_voila_app_gives_its_kernels_the_app_mode(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_APP_MODE, "voila")  # even when the launcher's own environment has it
    lab = LabSession(app="lab", workdir=tmp_path / "lab").app_environment()
    assert ENV_APP_MODE not in lab
    voila = LabSession(app="voila", workdir=tmp_path / "voila", notebooks_dir=REPO_ROOT / "notebooks")
    env = voila.app_environment()
    assert env[ENV_APP_MODE] == "voila"
    # The home page's step list, for the tree template (it gets no custom resources from Voila).
    session_root = Path(env["JUPYTER_PATH"].split(os.pathsep)[0])
    steps_template = session_root / "voila" / "templates" / "playbook" / "playbook_steps.j2"
    assert '"file": "08_register.ipynb"' in steps_template.read_text()


def test_text_for_jupyterlab_users_is_tagged_lab_only_so_the_voila_app_hides_it():
    import nbformat

    for path in sorted((REPO_ROOT / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown" and ("interactive=True" in cell.source or "`run_dir`" in cell.source
                                                 and cell.source.lstrip().startswith("## Verdict")):
                assert "lab-only" in cell.metadata.get("tags", []), f"{path.name}: untagged: {cell.source[:60]!r}"


# ---- in Korean ----------------------------------------------------------------------------------

def test_korean_copies_of_the_notebooks_keep_their_code_and_their_relative_paths(tmp_path):
    import nbformat

    source = REPO_ROOT / "notebooks"
    before = {path: path.read_bytes() for path in source.rglob("*.ipynb")}
    root = tmp_path / "localized-ko"
    served = localize_tree(source, root, "ko")
    assert served == root / "notebooks"
    copies = sorted(path.relative_to(served) for path in served.rglob("*.ipynb"))
    assert copies == sorted(path.relative_to(source) for path in before)
    assert Path("training/scenarios.ipynb") in copies
    # The prose comes from the catalogue (this heading is translated); the code cells are the same.
    original, copy = (nbformat.read(folder / "08_register.ipynb", as_version=4) for folder in (source, served))
    assert copy.cells[0].source.splitlines()[0] == gettext("# 08 · Register the number (guide: Phase 4, step 5)", "ko")
    assert copy.cells[0].source != original.cells[0].source
    assert [c.source for c in copy.cells if c.cell_type == "code"] == [
        c.source for c in original.cells if c.cell_type == "code"]
    assert copy.metadata["playbook"]["language"] == "ko"
    # ../customers/example.yaml resolves from the copies as from notebooks/.
    assert (served / ".." / "customers" / "example.yaml").resolve() == (REPO_ROOT / "customers" / "example.yaml").resolve()
    assert not (root / ".git").exists()  # hidden entries are not linked
    # The repository's notebooks are untouched; a second start writes the copies afresh.
    assert {path: path.read_bytes() for path in source.rglob("*.ipynb")} == before
    (served / "stale.ipynb").write_text("{}")
    localize_tree(source, root, "ko")
    assert not (served / "stale.ipynb").exists()


def test_a_korean_lab_serves_the_copies_with_korean_menus_and_kernels(tmp_path, monkeypatch):
    monkeypatch.delenv(LANGUAGE_ENV, raising=False)
    english = LabSession(app="lab", workdir=tmp_path / "en")
    korean = LabSession(app="lab", workdir=tmp_path / "ko", language="ko_KR")
    try:
        assert english.language == "en" and english.served_dir == english.notebooks_dir  # as before
        assert TRANSLATION_SETTINGS not in english.lab_settings()
        assert LANGUAGE_ENV not in english.kernel_environment()
        assert f"--ServerApp.root_dir={english.notebooks_dir}" in english._jupyterlab_command(8888)

        assert korean.language == "ko"
        assert korean.served_dir == tmp_path / "ko" / "localized-ko" / "notebooks"
        assert korean.lab_settings()[TRANSLATION_SETTINGS] == {"locale": "ko_KR"}
        assert korean.kernel_environment()[LANGUAGE_ENV] == "ko"
        assert f"--ServerApp.root_dir={korean.served_dir}" in korean._jupyterlab_command(8888)
        # PLAYBOOK_LANGUAGE=ko in the environment does the same as --language ko.
        monkeypatch.setenv(LANGUAGE_ENV, "ko")
        assert LabSession(app="lab", workdir=tmp_path / "env").served_dir.parent.name == "localized-ko"
    finally:
        english.stop()
        korean.stop()


def test_a_korean_voila_app_gets_its_words_and_html_lang(tmp_path, monkeypatch):
    monkeypatch.delenv(LANGUAGE_ENV, raising=False)
    english = LabSession(app="voila", workdir=tmp_path / "en", notebooks_dir=REPO_ROOT / "notebooks")
    korean = LabSession(app="voila", workdir=tmp_path / "ko", notebooks_dir=REPO_ROOT / "notebooks", language="ko")
    try:
        command = english._voila_command(8866)
        assert not [a for a in command if "language_code" in a]
        assert json.loads(next(a for a in command if a.startswith("--VoilaConfiguration.resources=")).split("=", 1)[1]) \
            == {"playbook_steps": step_notebooks(REPO_ROOT / "notebooks")}
        command = korean._voila_command(8866)
        assert str(korean.served_dir) in command and "--HTMLExporter.language_code=ko" in command
        korean.app_environment()  # writes the home page's steps and words
        steps = (tmp_path / "ko" / "jupyter" / "voila" / "templates" / "playbook" / "playbook_steps.j2").read_text()
        assert '{%- set language = "ko" -%}' in steps and "{%- set words = " in steps
    finally:
        english.stop()
        korean.stop()


def test_every_word_of_the_voila_templates_and_every_step_label_is_in_the_catalogue():
    import re

    written = set()
    for path in (REPO_ROOT / "voila" / "templates" / "playbook").iterdir():
        template = re.sub(r"\{#.*?#\}", "", path.read_text(encoding="utf-8"), flags=re.S)  # not the comments
        for _quote, text in re.findall(r"\bt(?:_html)?\((['\"])(.*?)\1\)", template):
            written.add(text)
    assert len(written) >= 8 and written <= set(VOILA_WORDS), written - set(VOILA_WORDS)
    # The folder and page names the home page lists by name (t(content.name | capitalize)).
    assert {"Training", "Scenarios"} <= set(VOILA_WORDS)
    assert {step_label(path.name) for path in (REPO_ROOT / "notebooks").glob("[0-9][0-9]*.ipynb")} <= set(STEP_LABELS)


def test_a_language_the_playbook_does_not_have_is_refused_before_anything_starts(tmp_path):
    result = subprocess.run([sys.executable, "-m", "helpers", "lab", "--language", "fr", "--no-browser",
                             "--workdir", str(tmp_path / "work")], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert "ko" in result.stderr and "fr" in result.stderr
    assert not (tmp_path / "work").exists()
