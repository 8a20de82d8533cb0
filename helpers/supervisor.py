"""The one process supervisor: start a child with a readiness probe and a log, stop it with TERM then KILL.

Every child carries a tag in its environment (`PLAYBOOK_SUPERVISOR_TAG=<tag>`, inherited by
its own children, kernels included), and the supervisor remembers the child's start time
(field 22 of /proc/<pid>/stat). A PID alone is never enough to signal: a PID read back from
a file may since belong to another process, so `Child.stop()` and `stop_recorded()` check
that the process still has the same start time and carries the tag before sending anything.

    >>> child = start("webhooks", [sys.executable, "-m", "helpers", "webhooks", "serve", ...],
    ...               log_path=Path("receiver.log"), ready=http_ready(url, accept=(403,)))
    >>> child.state()          # JSON-safe: pid, start time, tag, log, for a state file
    >>> stop_recorded(state)   # later, from another process: stops it only if it is still ours
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .processes import pid_alive, send_signal, start_ticks
from .errors import PlaybookError
from .i18n import _

TAG_ENV = "PLAYBOOK_SUPERVISOR_TAG"
STOP_TIMEOUT = 10.0


class SupervisorError(PlaybookError, RuntimeError):
    """A child did not start (died early, or never became ready); the message ends with its log tail."""


# ---- /proc --------------------------------------------------------------------------------------

def _environ(pid: int) -> list[bytes]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            return environ.read().split(b"\0")
    except OSError:
        return []


def carries_tag(pid: int, tag: str) -> bool:
    return f"{TAG_ENV}={tag}".encode() in _environ(pid)


def tagged_processes(tag: str) -> list[int]:
    """PIDs of live processes (not this one) whose environment carries this tag."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid() and carries_tag(int(entry.name), tag) \
                and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def new_tag() -> str:
    return secrets.token_hex(8)


# ---- readiness probes ---------------------------------------------------------------------------

def http_ready(url: str, *, accept: tuple[int, ...] = (), timeout: float = 5.0) -> Callable[[], bool]:
    """A probe: True once `url` answers below 400 (or with one of the `accept` statuses)."""
    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.status < 400
        except urllib.error.HTTPError as exc:
            return exc.code in accept
        except (urllib.error.URLError, OSError):
            return False
    return probe


# ---- the child ----------------------------------------------------------------------------------

@dataclass
class Child:
    """One supervised process. `popen` is set in the process that started it, None for one read from a file."""

    name: str
    pid: int
    tag: str
    started: int | None
    log_path: Path | None = None
    popen: subprocess.Popen | None = field(default=None, repr=False)

    def is_ours(self) -> bool:
        """Still the very process we started: same start time and our tag (a recycled PID is neither)."""
        if not pid_alive(self.pid):
            return False
        if self.started is not None and start_ticks(self.pid) != self.started:
            return False
        return carries_tag(self.pid, self.tag)

    def running(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        return self.is_ours()

    @property
    def returncode(self) -> int | None:
        return self.popen.poll() if self.popen is not None else None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(Path(self.log_path).read_text(errors="replace").splitlines()[-lines:]) if self.log_path else ""
        except OSError:
            return ""

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """SIGTERM, then SIGKILL to its process group after `timeout`; True if it was running and is now gone."""
        if not self.is_ours():
            self._reap()
            return False
        send_signal(self.pid, signal.SIGTERM)
        if not self._wait(timeout):
            send_signal(-self.pid, signal.SIGKILL)  # the group: its own children too (own session, so only ours)
            send_signal(self.pid, signal.SIGKILL)
            self._wait(timeout)
        return True

    def _wait(self, timeout: float) -> bool:
        if self.popen is not None:
            try:
                self.popen.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while pid_alive(self.pid):
            self._reap()
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        self._reap()
        return True

    def _reap(self) -> None:
        if self.popen is not None:
            self.popen.poll()
            return
        try:  # a child of this process started in an earlier call: reap it so it is not left a zombie
            os.waitpid(self.pid, os.WNOHANG)
        except (ChildProcessError, OSError):
            pass

    def state(self) -> dict[str, Any]:
        """What a state file keeps, so that another process can stop it (safely) later."""
        return {"name": self.name, "pid": self.pid, "tag": self.tag, "started": self.started,
                "log": str(self.log_path) if self.log_path else None}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> "Child":
        return cls(name=str(state.get("name") or "child"), pid=int(state["pid"]), tag=str(state["tag"]),
                   started=int(state["started"]) if state.get("started") is not None else None,
                   log_path=Path(state["log"]) if state.get("log") else None)


def start(name: str, command: Sequence[str], *, log_path: str | os.PathLike, env: Mapping[str, str] | None = None,
          tag: str | None = None, ready: Callable[[], bool] | None = None, timeout: float = 30.0,
          cwd: str | os.PathLike | None = None, cancel: threading.Event | None = None, append_log: bool = False) -> Child:
    """Start `command` in its own session, output to `log_path`, tagged; wait until `ready()` is true.

    Raises SupervisorError (with the log's tail) if the child exits first or is not ready within
    `timeout` (the child is stopped then); KeyboardInterrupt if `cancel` is set while waiting.
    """
    tag = tag or new_tag()
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    child_env = {**(os.environ if env is None else env), TAG_ENV: tag}
    with open(log_path, "ab" if append_log else "wb") as log:
        # Own session: a terminal's Ctrl-C reaches the launcher only, which stops the children in order.
        popen = subprocess.Popen(list(command), env=child_env, cwd=str(cwd) if cwd else None,
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    child = Child(name, popen.pid, tag, start_ticks(popen.pid), log_path, popen)
    if ready is None:
        return child
    cancel = cancel or threading.Event()
    deadline = time.monotonic() + timeout
    while True:
        if popen.poll() is not None:
            raise SupervisorError(_("{name} exited with status {status} while starting; "
                                    "its log ({log}) ends:\n{tail}").format(name=name, status=popen.returncode,
                                                                            log=log_path, tail=child.log_tail()))
        if ready():
            return child
        if cancel.is_set():
            child.stop()
            raise KeyboardInterrupt
        if time.monotonic() > deadline:
            child.stop()
            raise SupervisorError(_("{name} was not ready within {seconds} s and was stopped; "
                                    "its log ({log}) ends:\n{tail}").format(name=name, seconds=f"{timeout:g}",
                                                                            log=log_path, tail=child.log_tail()))
        cancel.wait(0.1)


def stop_recorded(state: Mapping[str, Any], timeout: float = STOP_TIMEOUT) -> bool:
    """Stop a child known from its state() (e.g. read from a file): only if it is still ours."""
    try:
        child = Child.from_state(state)
    except (KeyError, TypeError, ValueError):
        return False
    return child.stop(timeout)
