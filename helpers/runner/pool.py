"""The warm kernel pool: a fork server and one spare kernel, with a lifetime of their own.

Who runs customers owns a pool: a batch one for all its customers (they run in threads of the
batch's process), an Airflow worker (or any caller) with `with KernelPool() as pool:
run_customer(..., pool=pool)`; the pool is safe to share between threads. Plain calls share one
process-wide pool, created on first use and stopped when the process exits. A pool's kernels all
start from the same allow-listed environment (see `kernel_environment`), so one fork server
serves every customer; each kernel then gets only its own customer's secrets when it is taken.
"""
from __future__ import annotations

import atexit
import multiprocessing.util
import threading
import time
from pathlib import Path
from typing import Mapping

from ..i18n import _
from .forkserver import ForkServer
from .kernel import CustomerKernel

# What a kernel inherits from its caller's environment: where programs, home, locale and the
# Jupyter/Python settings are, and the playbook's own PLAYBOOK_* settings (URLs and names, never
# secrets). Everything else, and every other customer's secret in particular, stays out.
ALLOWED_NAMES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV",
    "IPYTHONDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
})
ALLOWED_PREFIXES = ("LC_", "JUPYTER_", "PLAYBOOK_")


def kernel_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The allow-listed part of `environ`: what every kernel starts with, whoever calls."""
    return {k: v for k, v in environ.items() if k in ALLOWED_NAMES or k.startswith(ALLOWED_PREFIXES)}


class KernelPool:
    """One fork server and a spare kernel launched while the current customer runs, so the next
    customer finds its kernel booted with the libraries imported. The spare has no secrets; a
    customer's own are added when it is taken. Kernels are never shared between customers."""

    def __init__(self) -> None:
        self._server: ForkServer | None = None
        self._spare: tuple[tuple, CustomerKernel] | None = None
        self._lock = threading.Lock()
        self.closed = False

    @property
    def server_pid(self) -> int | None:
        """The fork server's pid (None before the first kernel or after close)."""
        return self._server.pid if self._server is not None else None

    def _server_for(self, env: dict[str, str]) -> ForkServer:
        # Only a changed allow-listed environment (PATH, a PLAYBOOK_* URL, ...) restarts the server.
        if self._server is None or self._server.env != env:
            if self._server is not None:
                self._server.close()
            self._server = ForkServer(env)
        return self._server

    def take(self, base_env: dict[str, str], secrets: dict[str, str], cwd: Path,
             timeout: float = ForkServer.LAUNCH_TIMEOUT) -> CustomerKernel:
        """A connected kernel holding `secrets` in its environment, within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        key = (tuple(sorted(base_env.items())), str(cwd))
        with self._lock:
            if self.closed:
                raise RuntimeError("this KernelPool is closed")
            spare, self._spare = self._spare, None
            server = self._server_for(base_env)
        kernel = None
        if spare is not None:
            if spare[0] == key and spare[1].server is server:
                kernel = spare[1]
            else:
                spare[1].shutdown()
        for attempt in (1, 2):  # a kernel that fails to start is retried once, inside the same budget
            try:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(_("no kernel started within {seconds} s").format(seconds=f"{timeout:g}"))
                kernel = (kernel or CustomerKernel(base_env, cwd=cwd, server=server).launch(left))
                kernel.connect(max(deadline - time.monotonic(), 0.1))
                break
            except Exception:
                if kernel is not None:
                    kernel.shutdown()
                kernel = None
                if attempt == 2 or time.monotonic() >= deadline:
                    raise
        try:
            spare_kernel = CustomerKernel(base_env, cwd=cwd, server=server).launch()
        except Exception:  # no spare: the next customer launches its own
            spare_kernel = None
        with self._lock:
            if spare_kernel is not None and not self.closed and self._spare is None:
                self._spare, spare_kernel = (key, spare_kernel), None
        if spare_kernel is not None:
            spare_kernel.shutdown()
        kernel.set_environment(secrets)
        return kernel

    def close(self) -> None:
        """Stop the spare kernel and the fork server (the server stops any kernel it still has)."""
        with self._lock:
            self.closed = True
            spare, self._spare = self._spare, None
            server, self._server = self._server, None
        if spare is not None:
            spare[1].shutdown()
        if server is not None:
            server.close()

    def __enter__(self) -> "KernelPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_default: KernelPool | None = None
_default_lock = threading.Lock()


def default_pool() -> KernelPool:
    """The process-wide pool for plain `run_customer` calls, stopped when the process exits."""
    global _default
    with _default_lock:
        if _default is None or _default.closed:
            _default = KernelPool()
            atexit.register(_default.close)
            # Pool workers leave through os._exit, which skips atexit; multiprocessing's finalizers still run.
            multiprocessing.util.Finalize(_default, _default.close, exitpriority=10)
        return _default


def close_default_pool() -> None:
    """Stop the process-wide pool now (a test session's end, a worker's shutdown)."""
    with _default_lock:
        pool = _default
    if pool is not None:
        pool.close()
