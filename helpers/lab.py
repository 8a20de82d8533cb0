"""`python -m helpers lab` and `python -m helpers voila`: the training lab in one command.

Starts the sandbox (in this process), a webhook receiver and JupyterLab, or the Voilà app,
as child processes; writes a training profile that points the notebooks at them; and gives
the kernels the sandbox's demo environment (fake secrets that only the sandbox accepts).
Ctrl-C or SIGTERM stops everything it started, kernels included.

    >>> with LabSession(app="lab", workdir="runs/lab") as lab:
    ...     lab.app_url, lab.sandbox_url, lab.callback_url, lab.profile_path

Nothing here writes a secret to a file: the demo secrets live only in the environment of
the child processes (and so of their kernels).

In another language (PLAYBOOK_LANGUAGE=ko, or `--language ko`) the kernels get that language, and
JupyterLab and Voila serve copies of the notebooks whose prose comes from the catalogue
(helpers.i18n.localize_notebook), written fresh on each start under `<workdir>/localized-<lang>/`
beside links to the repository's folders (so `../customers/...` resolves as it does from
`notebooks/`); JupyterLab's own menus come from its language pack, set in the session's settings.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import yaml

from . import supervisor
from .processes import free_port, kill
from .errors import PlaybookError
from .i18n import (DEFAULT_LANGUAGE, LANGUAGE_ENV, LANGUAGES, LanguageError, _, check_language,
                   current_language, display_width, set_language)
from .lab_notebooks import (STEP_FILE, STEP_LABELS, VOILA_WORDS, localize_tree, step_label,  # noqa: F401
                            step_notebooks, voila_words)
from .paths import DEFAULT_DRILLS_DIR, DEFAULT_PROFILE, NOTEBOOKS_DIR, REPO_ROOT
from .profiles import load_profile

DEFAULT_WORKDIR = REPO_ROOT / "runs" / "lab"
# Voilà finds templates under <entry of JUPYTER_PATH>/voila/templates/<name>.
VOILA_TEMPLATE_ROOT = REPO_ROOT
VOILA_TEMPLATE = "playbook"
# The home page's list of steps, generated per session: Voila's tree page gets no custom resources,
# so tree.html imports this file (from the session's own entry on JUPYTER_PATH).
VOILA_STEPS_TEMPLATE = "playbook_steps.j2"
# JupyterLab defaults for the session (the user's own settings still win): offline, so no
# news feed prompt and no update check.
LAB_SETTING_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    # The step notebooks are committed without outputs: running them must not write outputs
    # back into the repository unless the trainee saves on purpose.
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
}
# JupyterLab's language packs, by the playbook's language (jupyterlab-language-pack-ko-kr is in requirements.txt).
JUPYTERLAB_LOCALES = {"ko": "ko_KR"}
TRANSLATION_SETTINGS = "@jupyterlab/translation-extension:plugin"

LOCALIZED_PREFIX = "localized-"  # <workdir>/localized-ko/notebooks: the Korean copies

# Every process this session starts (and every kernel those start) carries the supervisor's tag,
# so stop() can find and end stragglers that were re-parented when their server exited.
SESSION_MARKER = supervisor.TAG_ENV
# What the kernels read to find the training setup (helpers.lab.training_context()).
ENV_PROFILE = "PLAYBOOK_PROFILE"
ENV_SANDBOX_URL = "PLAYBOOK_SANDBOX_URL"
ENV_GRAPH_URL = "PLAYBOOK_GRAPH_URL"
ENV_CALLBACK_URL = "PLAYBOOK_CALLBACK_URL"
ENV_WEBHOOK_DB = "PLAYBOOK_WEBHOOK_DB"
ENV_RUN_DIR = "PLAYBOOK_RUN_DIR"
ENV_DRILLS_DIR = "PLAYBOOK_DRILLS_DIR"  # helpers.sandbox.scenarios.DRILLS_DIR_ENV: replayed drills beside the built-in
# Set to "voila" in the Voila app's kernels only: there a step acts on its form's button, never on opening.
ENV_APP_MODE = "PLAYBOOK_APP_MODE"

START_TIMEOUT = 120.0  # JupyterLab's first start on a cold disk can take a while
STOP_TIMEOUT = 15.0


class LabError(supervisor.SupervisorError):
    """Something the lab needs did not start; the message says what and where its log is."""


# ---- what the kernels and the Voilà app read ---------------------------------------------------

def training_context() -> dict[str, str]:
    """The training setup this kernel was started with (empty outside `make lab`/`make voila`)."""
    names = {"profile": ENV_PROFILE, "sandbox_url": ENV_SANDBOX_URL, "graph_url": ENV_GRAPH_URL,
             "callback_url": ENV_CALLBACK_URL, "webhook_db": ENV_WEBHOOK_DB, "run_dir": ENV_RUN_DIR}
    return {key: os.environ[env] for key, env in names.items() if os.environ.get(env)}


# ---- the session -------------------------------------------------------------------------------

class LabSession:
    """The sandbox, a webhook receiver and JupyterLab (app="lab") or Voilà (app="voila").

    `workdir` holds the generated training profile, the webhook store and the children's
    logs; it is recreated fresh on each start (the sandbox starts from its seed unless
    `state_path` keeps its state).
    """

    def __init__(
        self,
        *,
        app: str = "lab",
        profile: str | os.PathLike = DEFAULT_PROFILE,
        workdir: str | os.PathLike = DEFAULT_WORKDIR,
        notebooks_dir: str | os.PathLike = NOTEBOOKS_DIR,
        host: str = "127.0.0.1",
        port: int = 0,
        open_browser: bool = False,
        state_path: str | os.PathLike | None = None,
        drills_dir: str | os.PathLike | None = None,
        language: str | None = None,
    ) -> None:
        if app not in ("lab", "voila"):
            raise ValueError("app must be 'lab' or 'voila'")
        self.app = app
        # The notebooks', forms' and menus' language: `language`, else PLAYBOOK_LANGUAGE, else English.
        self.language = check_language(language, "--language") if language else current_language()
        self.source_profile = Path(profile).resolve()
        self.workdir = Path(workdir).resolve()
        self.notebooks_dir = Path(notebooks_dir).resolve()
        self.host = host
        self.port = port
        self.open_browser = open_browser
        self.state_path = Path(state_path).resolve() if state_path else None
        # Replayed failures (helpers.training.replay) the training page lists: $PLAYBOOK_DRILLS_DIR, else runs/drills.
        self.drills_dir = Path(drills_dir or os.environ.get(ENV_DRILLS_DIR) or DEFAULT_DRILLS_DIR).resolve()
        self._drills_env_before: tuple[str | None] | None = None  # set while this session holds the variable
        self.session_id = secrets.token_hex(8)
        # JupyterLab's login token: JUPYTER_TOKEN when set (Jupyter's own convention), else a fresh
        # one; printed in the banner, never written to a file.
        self._token = os.environ.get("JUPYTER_TOKEN") or secrets.token_urlsafe(24)
        self._sandbox = None
        self._children: dict[str, supervisor.Child] = {}
        self._logs: dict[str, Path] = {}
        self._runtime_dir: Path | None = None
        self.sandbox_url = ""
        self.callback_url = ""
        self.app_url = ""
        self.profile_path = self.workdir / "training-profile.yaml"
        self.webhook_db = self.workdir / "webhooks.sqlite"
        self.run_dir = self.workdir / "records"
        # What JupyterLab and Voila serve: the notebooks themselves in English, else their localized copies.
        self.localized_root = self.workdir / f"{LOCALIZED_PREFIX}{self.language}"
        self.served_dir = (self.notebooks_dir if self.language == DEFAULT_LANGUAGE
                           else self.localized_root / self.notebooks_dir.name)

    # -- start ---------------------------------------------------------------------------------

    def start(self, cancel: threading.Event | None = None) -> "LabSession":
        try:
            self._start(cancel or threading.Event())
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, cancel: threading.Event) -> None:
        # Not a loop: the emulator (and Meta's spec) loads when a session starts, not whenever the CLI does.
        from .sandbox import Sandbox

        profile = load_profile(self.source_profile)  # refuses a bad profile before anything starts
        self._fresh_workdir()
        if self.served_dir != self.notebooks_dir:
            localize_tree(self.notebooks_dir, self.localized_root, self.language)
        # The sandbox runs in this process and reads its scenarios' folders from the environment
        # (helpers.sandbox.scenarios); stop() puts the variable back as it was.
        self._drills_env_before = (os.environ.get(ENV_DRILLS_DIR),)
        os.environ[ENV_DRILLS_DIR] = str(self.drills_dir)
        self._sandbox = Sandbox(state_path=self.state_path, host=self.host).start()
        self.sandbox_url = self._sandbox.url

        receiver_port = free_port(self.host)
        self.callback_url = f"http://{self.host}:{receiver_port}/webhook"
        # Without hub.mode the receiver answers 403: it is up.
        self._spawn("webhooks", [
            sys.executable, "-m", "helpers", "webhooks", "serve", "--host", self.host, "--port", str(receiver_port),
            "--db", str(self.webhook_db), "--verify-token-env", profile["verify_token_env"],
            "--app-secret-env", profile["app_secret_env"]], self.kernel_environment(),
            self.callback_url, cancel, accept=(403,))

        self._write_profile(profile)
        env = self.kernel_environment()

        port = self.port or free_port(self.host)
        if self.app == "lab":
            base = f"http://{self.host}:{port}"
            self._spawn("jupyterlab", self._jupyterlab_command(port), env, f"{base}/api/status?token={self._token}",
                        cancel)
            self.app_url = f"{base}/lab?token={self._token}"
        else:
            base = f"http://{self.host}:{port}"
            self._spawn("voila", self._voila_command(port), self.app_environment(), f"{base}/", cancel)
            self.app_url = f"{base}/"  # the app's home: the steps in order

    def kernel_environment(self) -> dict[str, str]:
        """The children's (and so the kernels') environment: ours plus the demo secrets and pointers."""
        from .sandbox.peer import peer_env  # with the sandbox, as _start

        env = dict(os.environ)
        env.pop(ENV_APP_MODE, None)  # JupyterLab's kernels act on their cells; only Voila's get the mode
        env.update(self._sandbox.demo_env() if self._sandbox else {})
        env.update(peer_env(self.sandbox_url) if self._sandbox else {})  # steps read the SMS, consumer through it
        python_path = [str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if self.language != DEFAULT_LANGUAGE or LANGUAGE_ENV in env:
            env[LANGUAGE_ENV] = self.language  # the forms, verdicts and remedies in the session's language
        env.update({
            "PYTHONPATH": os.pathsep.join(dict.fromkeys(python_path)),
            ENV_PROFILE: str(self.profile_path),
            ENV_SANDBOX_URL: self.sandbox_url,
            ENV_GRAPH_URL: self.sandbox_url,
            ENV_CALLBACK_URL: self.callback_url,
            ENV_WEBHOOK_DB: str(self.webhook_db),
            ENV_RUN_DIR: str(self.run_dir),
            ENV_DRILLS_DIR: str(self.drills_dir),
            "JUPYTER_RUNTIME_DIR": str(self._runtime()),
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # quiets a debugger warning in every kernel's log
        })
        return env

    def app_environment(self) -> dict[str, str]:
        """The app server's environment: the kernels' and, for Voila, its templates and the app mode."""
        env = self.kernel_environment()
        if self.app == "voila":
            # The Voila app never acts on opening a page: its kernels see PLAYBOOK_APP_MODE=voila.
            env.update({"JUPYTER_PATH": self._jupyter_path(env), ENV_APP_MODE: "voila"})
        return env

    def _fresh_workdir(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for stale in (self.profile_path, self.webhook_db, Path(f"{self.webhook_db}-wal"), Path(f"{self.webhook_db}-shm")):
            stale.unlink(missing_ok=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self.run_dir.mkdir(parents=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        settings = self.workdir / "lab-settings"
        settings.mkdir(exist_ok=True)
        (settings / "overrides.json").write_text(json.dumps(self.lab_settings(), indent=2), encoding="utf-8")

    def lab_settings(self) -> dict[str, Any]:
        """JupyterLab's defaults for this session (overrides.json): offline, no autosave, and in another language
        its menus from that language's pack (the user's own settings still win)."""
        settings = dict(LAB_SETTING_OVERRIDES)
        if self.language in JUPYTERLAB_LOCALES:
            settings[TRANSLATION_SETTINGS] = {"locale": JUPYTERLAB_LOCALES[self.language]}
        return settings

    def _runtime(self) -> Path:
        # Kernel connection files: private to this session, removed on stop.
        if self._runtime_dir is None:
            self._runtime_dir = Path(tempfile.mkdtemp(prefix="playbook-lab-runtime-"))
        return self._runtime_dir

    def _write_profile(self, profile: dict[str, Any]) -> None:
        """The source profile pointed at this session's sandbox and receiver (names of secrets only)."""
        training = {key: value for key, value in profile.items()}
        training["graph_url"] = self.sandbox_url
        training["callback_url"] = self.callback_url
        header = ("# Written by `python -m helpers lab` for this session only: the training customer pointed at\n"
                  f"# the local sandbox and webhook receiver. Source: {self.source_profile}\n"
                  "# Secrets are environment variable NAMES; the kernels hold the sandbox's fake values.\n")
        self.profile_path.write_text(header + yaml.safe_dump(training, sort_keys=False, allow_unicode=True),
                                     encoding="utf-8")

    def _jupyterlab_command(self, port: int) -> list[str]:
        return [
            sys.executable, "-m", "jupyterlab",
            f"--ServerApp.ip={self.host}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.served_dir}", f"--IdentityProvider.token={self._token}",
            f"--ServerApp.open_browser={self.open_browser}",
            f"--LabApp.workspaces_dir={self.workdir / 'workspaces'}",
            f"--LabApp.app_settings_dir={self.workdir / 'lab-settings'}",
            # Offline: no news feed and no update check from the browser.
            "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ] + (["--allow-root"] if os.geteuid() == 0 else [])  # CI and containers run as root

    def _steps(self) -> list[dict[str, str]]:
        served = self.served_dir if self.served_dir.is_dir() else self.notebooks_dir
        return step_notebooks(served, self.language)

    def _voila_command(self, port: int) -> list[str]:
        resources: dict[str, Any] = {"playbook_steps": self._steps()}
        if self.language != DEFAULT_LANGUAGE:
            resources["playbook_words"] = voila_words(self.language)  # the step pages' own words (index.html.j2)
        command = [
            sys.executable, "-m", "voila", str(self.served_dir),
            f"--Voila.ip={self.host}", f"--port={port}", "--Voila.port_retries=0",
            f"--template={VOILA_TEMPLATE}", f"--VoilaConfiguration.resources={json.dumps(resources)}",
            "--VoilaConfiguration.classic_tree=True",  # the template's tree.html is the app's home page
            # Trainees see the error table the step prints, not a Python traceback.
            "--VoilaConfiguration.show_tracebacks=False",
        ]
        if self.language != DEFAULT_LANGUAGE:
            command.append(f"--HTMLExporter.language_code={self.language}")  # <html lang="ko"> on the step pages
        if not self.open_browser:
            command.append("--no-browser")
        return command

    def _jupyter_path(self, env: dict[str, str]) -> str:
        session_root = self._write_steps_template()
        # The session's entry first: its playbook_steps.j2 wins over the template's empty default.
        return os.pathsep.join([str(session_root), str(VOILA_TEMPLATE_ROOT)]
                               + [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p])

    def _write_steps_template(self) -> Path:
        """<workdir>/jupyter/voila/templates/playbook/playbook_steps.j2: `steps`, the step notebooks in order;
        `words`, the home page's words in the session's language; `language`, its code."""
        root = self.workdir / "jupyter"
        folder = root / "voila" / "templates" / VOILA_TEMPLATE
        folder.mkdir(parents=True, exist_ok=True)
        # JSON with ASCII escapes is a valid Jinja literal (strings, lists and mappings only).
        steps = json.dumps(self._steps(), ensure_ascii=True)
        words = json.dumps(voila_words(self.language), ensure_ascii=True)
        (folder / VOILA_STEPS_TEMPLATE).write_text(
            "{#- Written by `python -m helpers voila` for this session: the step notebooks, in order. -#}\n"
            "{%- set steps = " + steps + " -%}\n"
            "{%- set words = " + words + " -%}\n"
            "{%- set language = " + json.dumps(self.language) + " -%}\n", encoding="utf-8")
        return root

    def _spawn(self, name: str, command: list[str], env: dict[str, str], ready_url: str,
               cancel: threading.Event, accept: tuple[int, ...] = ()) -> None:
        log_path = self.workdir / "logs" / f"{name}.log"
        self._logs[name] = log_path
        try:
            self._children[name] = supervisor.start(
                name, command, log_path=log_path, env=env, tag=self.session_id, cwd=REPO_ROOT,
                ready=supervisor.http_ready(ready_url, accept=accept), timeout=START_TIMEOUT, cancel=cancel)
        except supervisor.SupervisorError as exc:
            raise LabError(str(exc).replace(ready_url, ready_url.split("?")[0])) from None  # no login token

    def log_tail(self, name: str, lines: int = 20) -> str:
        try:
            return "\n".join(self._logs[name].read_text(errors="replace").splitlines()[-lines:])
        except (KeyError, OSError):
            return ""

    # -- watch and stop --------------------------------------------------------------------------

    @property
    def control(self):
        """The sandbox's control API (scenarios, clock, consumer messages), as the trainer uses it."""
        if self._sandbox is None:
            raise LabError(_("the lab is not running"))
        return self._sandbox.control

    @property
    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self._children.items()}

    def exited_child(self) -> str | None:
        """The name of a child that has exited on its own, if any."""
        for name, process in self._children.items():
            if not process.running():
                return name
        return None

    def stop(self) -> None:
        """Stop the app server (it shuts its kernels down), the receiver, the sandbox; then any straggler."""
        for name in ("jupyterlab", "voila", "webhooks"):
            if name in self._children:
                self._children[name].stop(STOP_TIMEOUT)
        for pid in session_processes(self.session_id):
            kill(pid)
        if self._sandbox is not None:
            self._sandbox.stop()
            self._sandbox = None
        if self._drills_env_before is not None:
            (before,), self._drills_env_before = self._drills_env_before, None
            if before is None:
                os.environ.pop(ENV_DRILLS_DIR, None)
            else:
                os.environ[ENV_DRILLS_DIR] = before
        if self._runtime_dir is not None:
            shutil.rmtree(self._runtime_dir, ignore_errors=True)
            self._runtime_dir = None

    def __enter__(self) -> "LabSession":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def describe(self) -> dict[str, Any]:
        """What is running where (no secrets, no login token)."""
        return {"app": self.app, "language": self.language, "notebooks": str(self.served_dir),
                "app_url": self.app_url.split("?")[0], "sandbox_url": self.sandbox_url,
                "callback_url": self.callback_url, "profile": str(self.profile_path),
                "webhook_db": str(self.webhook_db), "run_dir": str(self.run_dir), "drills_dir": str(self.drills_dir),
                "logs": {name: str(path) for name, path in self._logs.items()},
                "pids": {"launcher": os.getpid(), **self.pids}, "session": self.session_id}


def session_processes(session_id: str) -> list[int]:
    """PIDs of live processes whose environment carries this session's tag (Linux /proc)."""
    return supervisor.tagged_processes(session_id)


# ---- command line ------------------------------------------------------------------------------

def add_parser(commands) -> None:
    for app, help_text in (("lab", _("training lab: sandbox + webhook receiver + JupyterLab on the notebooks")),
                           ("voila", _("training app: sandbox + webhook receiver + the notebooks in Voilà, code hidden"))):
        parser = commands.add_parser(app, help=help_text,
                                     description=_("{what}. Ctrl-C stops everything.").format(what=help_text))
        parser.add_argument("--profile", default=str(DEFAULT_PROFILE),
                            help=_("customer profile to train on (default customers/training.yaml)"))
        parser.add_argument("--port", type=int, default=0, help=_("port of the app server (default: a free one)"))
        parser.add_argument("--host", default="127.0.0.1",
                            help=_("address every server listens on (default 127.0.0.1)"))
        parser.add_argument("--workdir", default=str(DEFAULT_WORKDIR),
                            help=_("folder for the session's profile, webhook store and logs (default runs/lab)"))
        parser.add_argument("--state", default=None,
                            help=_("SQLite file keeping the sandbox's state between sessions (default: fresh from "
                                   "the seed)"))
        parser.add_argument("--drills", default=None,
                            help=_("folder of replayed drills (python -m helpers drill from-run) the training page "
                                   "lists (default: $PLAYBOOK_DRILLS_DIR, else runs/drills)"))
        parser.add_argument("--language", default=None, metavar="LANG",
                            help=_("en or ko: the notebooks' prose, forms and verdicts, and JupyterLab's menus "
                                   "(default: $PLAYBOOK_LANGUAGE, else English)"))
        parser.add_argument("--no-browser", action="store_true", help=_("do not open a web browser"))
        parser.add_argument("--ready-file", default=None,
                            help=_("write what runs where (JSON, no secrets) to this file once everything answers"))
        if app == "lab":
            parser.add_argument("--voila", action="store_true", help=_("serve the Voilà app instead of JupyterLab"))
        parser.set_defaults(handler=run, app=app)


def run(args: argparse.Namespace) -> int:
    app = "voila" if getattr(args, "voila", False) else args.app
    try:
        session = LabSession(app=app, profile=args.profile, workdir=args.workdir, host=args.host, port=args.port,
                             open_browser=not args.no_browser, state_path=args.state, drills_dir=args.drills,
                             language=getattr(args, "language", None))
        if getattr(args, "language", None):
            set_language(session.language)  # this launcher's own messages too
    except LanguageError as exc:  # refused before anything starts
        print(_("error: {problem}").format(problem=exc), file=sys.stderr)
        return 2
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum, _frame) -> None:
        received.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        print(_("Starting the sandbox, the webhook receiver and JupyterLab ...") if app == "lab"
              else _("Starting the sandbox, the webhook receiver and the Voilà app ..."), flush=True)
        try:
            session.start(cancel=stop)
        except KeyboardInterrupt:
            print(_("interrupted while starting; stopped everything"), file=sys.stderr)
            return 130
        except LabError as exc:
            print(_("error: {problem}").format(problem=exc), file=sys.stderr)
            return 1
        except PlaybookError as exc:  # a bad profile: refused before anything started
            print(_("error: {problem}").format(problem=exc), file=sys.stderr)
            return 2
        _print_banner(session)
        if args.ready_file:
            Path(args.ready_file).write_text(json.dumps(session.describe(), indent=2), encoding="utf-8")
        while not stop.wait(0.5):
            gone = session.exited_child()
            if gone:
                print(_("error: {child} exited; see {log}:").format(child=gone, log=session._logs[gone])
                      + f"\n{session.log_tail(gone)}", file=sys.stderr)
                return 1
        print("\n" + _("Stopping the lab ..."), flush=True)
        return 0
    finally:
        session.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if received:
            print(_("Stopped: app server, kernels, webhook receiver and sandbox."), flush=True)


def _print_banner(session: LabSession) -> None:
    app_row = ("JupyterLab", session.app_url) if session.app == "lab" else (_("Voila app"), session.app_url)
    rows = [(_("sandbox (Graph API)"), session.sandbox_url),
            (_("webhook receiver"), f"{session.callback_url}   "
             + _("store: {path}").format(path=_short(session.webhook_db))),
            (_("training profile"), _short(session.profile_path)),
            (_("replayed drills"), _short(session.drills_dir)),
            (_("logs"), _short(session.workdir / "logs"))]
    if session.served_dir != session.notebooks_dir:
        rows.append((_("notebooks ({language})").format(language=LANGUAGES[session.language]),
                     _short(session.served_dir)))
    width = max([19] + [display_width(label) for label, _value in rows]) + 2
    table = "\n".join(f"  {_pad(label, width)}{value}" for label, value in rows)
    heading = _("Training lab is up. Open:") if session.app == "lab" else _("Training app is up. Open:")
    print(f"""
{heading}

    {_pad(app_row[0], max(14, display_width(app_row[0]) + 4))}{app_row[1]}

{table}

""" + _("The kernels hold the sandbox's fake demo secrets (WHATSAPP_TOKEN, WHATSAPP_PIN, ...) in their\n"
        "environment. Start with step 00, then training/scenarios.ipynb (docs/training.md).\n"
        "Press Ctrl-C to stop everything.") + "\n", flush=True)


def _pad(text: str, width: int) -> str:
    return text + " " * max(width - display_width(text), 2)


def _short(path: Path) -> str:
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return str(path)
