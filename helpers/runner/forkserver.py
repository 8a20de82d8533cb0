"""Kernels forked from a warm process: each customer still gets a fresh kernel process of its
own, but without paying Python's start-up and the imports (ipykernel, pandas, the playbook)
every time — about 1 CPU-second per kernel on this class of machine.

`python -m helpers.runner.forkserver` imports everything once, then reads one JSON request
per line on stdin ({"connection_file", "cwd", "env"}), forks, and answers {"pid"} on stdout.
The child becomes an ordinary IPython kernel in its own process group with exactly the
environment it was given. When stdin closes (its worker is gone) the server stops its kernels
and exits; a kernel whose server dies exits too (IPKernelApp's parent poller).

`ForkProvisioner` plugs this into jupyter_client in place of its local Popen launcher, so
nbclient and papermill see a normal kernel manager.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from typing import Any

from jupyter_client.provisioning.local_provisioner import LocalProvisioner

from .._processes import pid_alive

# Warm-process environment: no thread pools that a fork would leave half-copied.
_SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class ForkedProcess:
    """The parts of subprocess.Popen that jupyter_client uses, for a kernel the server forked."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.stdin = self.stdout = self.stderr = None

    def poll(self) -> int | None:
        if self.returncode is None and not pid_alive(self.pid):
            self.returncode = 0  # the server reaps it; its real status is not ours to collect
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import time
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


class ForkServer:
    """Client side: one warm server process per worker, started on first use."""

    _lock = threading.Lock()

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: subprocess.Popen | None = None

    def launch(self, connection_file: str, cwd: str, env: dict[str, str]) -> ForkedProcess:
        with self._lock:
            if self.process is None or self.process.poll() is not None:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "helpers.runner.forkserver"], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, env={**self.env, **_SINGLE_THREADED}, text=True, bufsize=1)
            self.process.stdin.write(json.dumps({"connection_file": connection_file, "cwd": cwd, "env": env}) + "\n")
            self.process.stdin.flush()
            reply = self.process.stdout.readline()
        if not reply:
            raise RuntimeError("the kernel fork server exited; see its messages above")
        return ForkedProcess(int(json.loads(reply)["pid"]))

    def close(self) -> None:
        if self.process is not None:
            self.process.stdin.close()  # the server stops its kernels and exits
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None


_server: ForkServer | None = None


def server_for(env: dict[str, str]) -> ForkServer:
    """The process-wide fork server (restarted if the base environment changed)."""
    global _server
    if _server is None or _server.env != env:
        if _server is not None:
            _server.close()
        _server = ForkServer(env)
    return _server


def close_server() -> None:
    global _server
    if _server is not None:
        _server.close()
        _server = None


class ForkProvisioner(LocalProvisioner):
    """A LocalProvisioner whose kernels come from the fork server instead of Popen."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        env = kwargs.get("env") or dict(os.environ)
        self.process = server_for(self.parent.fork_server_env).launch(
            self.parent.connection_file, str(kwargs.get("cwd") or os.getcwd()), env)
        self.pid = self.pgid = self.process.pid  # the child leads its own process group
        self.cwd = kwargs.get("cwd")
        return self.connection_info


# ---- the server process ------------------------------------------------------------------

def _serve() -> None:
    import random

    import helpers.runner.preload  # noqa: F401  (the point of this process: import once)
    from ipykernel.kernelapp import IPKernelApp

    children: set[int] = set()

    def reap(*_):
        while True:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            children.discard(pid)

    signal.signal(signal.SIGCHLD, reap)
    server_pid = os.getpid()
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _become_kernel(request, server_pid, IPKernelApp, random)
        children.add(pid)
        sys.stdout.write(json.dumps({"pid": pid}) + "\n")
        sys.stdout.flush()
    for pid in list(children):  # our worker is gone: so are its kernels
        try:
            os.killpg(pid, signal.SIGTERM)
        except OSError:
            pass


def _become_kernel(request: dict, server_pid: int, app_class, random_module) -> None:
    try:
        os.setpgrp()  # interrupts and kills reach this kernel, not the server
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)  # stdout is the server's answer pipe
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        random_module.seed()  # forked children would otherwise share the server's random state
        app = app_class.instance()
        app.initialize(["-f", request["connection_file"], f"--IPKernelApp.parent_handle={server_pid}"])
        app.start()
    finally:
        os._exit(0)


if __name__ == "__main__":
    _serve()
