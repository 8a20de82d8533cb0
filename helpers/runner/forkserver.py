"""Kernels forked from a warm process: each customer still gets a fresh kernel process of its
own, but without paying Python's start-up and the imports (ipykernel, pandas, the playbook)
every time — about 1 CPU-second per kernel on this class of machine.

`python -m helpers.runner.forkserver` imports everything once, then reads one JSON request
per line on stdin ({"connection_file", "cwd", "env"}), forks, and answers {"pid"} on stdout;
{"op": "status", "pid"} answers the real exit code of a kernel it reaped ({"returncode"},
negative for a signal, null while it runs). The child becomes an ordinary IPython kernel in its
own process group with exactly the environment it was given. When stdin closes (its pool is
closed, or its worker is gone) the server stops its kernels and exits; a kernel whose server dies
exits too (IPKernelApp's parent poller).

`ForkProvisioner` plugs this into jupyter_client in place of its local Popen launcher, so
nbclient and papermill see a normal kernel manager.
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from jupyter_client.provisioning.local_provisioner import LocalProvisioner

from ..processes import pid_alive
from ..i18n import _

# Warm-process environment: no thread pools that a fork would leave half-copied; and no warning from the
# debugger's import (preloaded for the kernels, which never debug under the runner) about frozen modules.
_SERVER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "PYDEVD_DISABLE_FILE_VALIDATION": "1"}


class ForkedProcess:
    """The parts of subprocess.Popen that jupyter_client uses, for a kernel the server forked."""

    def __init__(self, pid: int, server: "ForkServer | None" = None) -> None:
        self.pid = pid
        self.server = server
        self.returncode: int | None = None
        self.stdin = self.stdout = self.stderr = None

    def poll(self) -> int | None:
        # The server reaps its children, so only it knows the real status: ask it once the pid is gone.
        if self.returncode is None and not pid_alive(self.pid):
            self.returncode = self.server.status(self.pid) if self.server is not None else UNKNOWN_STATUS
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


# Returned when the server that reaped a kernel is itself gone, so its status cannot be known.
UNKNOWN_STATUS = 255


def describe_exit(returncode: int | None) -> str:
    """'exit code 3', 'killed by SIGKILL', or 'still running': for messages about a dead kernel."""
    if returncode is None:
        return _("still running")
    if returncode < 0:
        try:
            return _("killed by {signal}").format(signal=signal.Signals(-returncode).name)
        except ValueError:
            return _("killed by signal {number}").format(number=-returncode)
    if returncode == UNKNOWN_STATUS:
        return _("exit status unknown (its fork server is gone)")
    return _("exit code {code}").format(code=returncode)


class ForkServer:
    """Client side: one warm server process, started on first use, owned by a KernelPool."""

    LAUNCH_TIMEOUT = 60.0

    def __init__(self, env: dict[str, str], command: list[str] | None = None) -> None:
        self.env = env
        self.command = command or [sys.executable, "-m", "helpers.runner.forkserver"]
        self.process: subprocess.Popen | None = None
        self._buffer = b""
        self._lock = threading.Lock()
        self.closed = False  # once closed, never started again (a thread may still be launching its spare)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None and self.process.poll() is None else None

    def launch(self, connection_file: str, cwd: str, env: dict[str, str],
               timeout: float | None = None) -> ForkedProcess:
        """Fork a kernel; TimeoutError if the server does not answer within `timeout` seconds."""
        with self._lock:
            if self.closed:
                raise RuntimeError(_("the kernel fork server is closed"))
            if self.process is None or self.process.poll() is not None:
                self.process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                env={**self.env, **_SERVER_ENV}, bufsize=0)
                self._buffer = b""
            reply = self._ask({"connection_file": connection_file, "cwd": cwd, "env": env},
                              self.LAUNCH_TIMEOUT if timeout is None else timeout)
        return ForkedProcess(int(reply["pid"]), self)

    def status(self, pid: int) -> int | None:
        """The exit code of a kernel the server reaped (negative: the signal), None if not yet reaped."""
        with self._lock:
            if self.process is None or self.process.poll() is not None:
                return UNKNOWN_STATUS
            try:
                return self._ask({"op": "status", "pid": pid}, 5.0).get("returncode")
            except (TimeoutError, RuntimeError):
                return UNKNOWN_STATUS

    def _ask(self, request: dict, timeout: float) -> dict:
        # Called with the lock held: one request in flight, so the next line is its answer.
        deadline = time.monotonic() + max(timeout, 0.0)
        try:
            self.process.stdin.write((json.dumps(request) + "\n").encode())
        except (BrokenPipeError, OSError):
            raise RuntimeError(_("the kernel fork server exited; see its messages above")) from None
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(left, 0.0))[0] if left > 0 else []
            if not ready:
                # A server that does not answer is stuck: replace it rather than wait on it again.
                self._kill()
                raise TimeoutError(_("the kernel fork server did not answer within {seconds} s").format(
                    seconds=f"{timeout:g}"))
            chunk = os.read(fd, 65536)
            if not chunk:
                self._kill()
                raise RuntimeError(_("the kernel fork server exited; see its messages above"))
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def _kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def close(self) -> None:
        with self._lock:
            self.closed = True
            if self.process is not None:
                self.process.stdin.close()  # the server stops its kernels and exits
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
                self.process = None


class ForkProvisioner(LocalProvisioner):
    """A LocalProvisioner whose kernels come from the fork server instead of Popen."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        env = kwargs.get("env") or dict(os.environ)
        self.process = self.parent.fork_server.launch(
            self.parent.connection_file, str(kwargs.get("cwd") or os.getcwd()), env,
            timeout=getattr(self.parent, "fork_launch_timeout", None))
        self.pid = self.pgid = self.process.pid  # the child leads its own process group
        self.cwd = kwargs.get("cwd")
        return self.connection_info


# ---- the server process ------------------------------------------------------------------

def _serve() -> None:
    import gc
    import random

    import helpers.runner.preload  # noqa: F401  (the point of this process: import once)
    from ipykernel.kernelapp import IPKernelApp

    # What the preload made stays out of the collector's sight: a kernel's collections then neither spend
    # CPU walking the libraries nor write to (and so copy) the pages it shares with its siblings.
    gc.collect()
    gc.freeze()

    children: set[int] = set()
    statuses: dict[int, int] = {}  # reaped kernels' exit codes, until asked for

    def reap(*_):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            children.discard(pid)
            statuses[pid] = os.waitstatus_to_exitcode(status)

    def answer(reply: dict) -> None:
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()

    signal.signal(signal.SIGCHLD, reap)
    server_pid = os.getpid()
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("op") == "status":
            reap()
            answer({"pid": request["pid"], "returncode": statuses.pop(int(request["pid"]), None)})
            continue
        # SIGCHLD waits until the child is recorded: a kernel that dies at once is still reaped
        # with its status, and is never left in `children` to be signalled after its pid is reused.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        try:
            pid = os.fork()
            if pid == 0:
                _become_kernel(request, server_pid, IPKernelApp, random)
            children.add(pid)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        answer({"pid": pid})
    for pid in list(children):  # our worker is gone: so are its kernels
        try:
            os.killpg(pid, signal.SIGTERM)
        except OSError:
            pass


def _become_kernel(request: dict, server_pid: int, app_class, random_module) -> None:
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        os.setpgrp()  # interrupts and kills reach this kernel, not the server
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)  # stdout is the server's answer pipe
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        random_module.seed()  # forked children would otherwise share the server's random state
        app = app_class.instance()
        # No history database: a step kernel's inputs are in its output notebook, and each cell's SQLite
        # write (and the history thread) cost CPU that a batch of customers pays many times over. No pause
        # before each reply (ipykernel's guard for clients that stop reading at the reply, ~1.4 ms a cell):
        # nbclient reads a cell's output until the kernel's idle, which comes after the reply.
        app.initialize(["-f", request["connection_file"], f"--IPKernelApp.parent_handle={server_pid}",
                        "--HistoryManager.enabled=False", "--IPythonKernel._execute_sleep=0"])
        app.start()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback
        traceback.print_exc()  # stderr is the worker's: the reason a kernel never started
    finally:
        os._exit(code)


if __name__ == "__main__":
    _serve()
