"""One kernel per customer, shared by all of that customer's step notebooks.

Kernel start (1-3 s as a fresh process) dominates a step's cost, so a customer's notebooks run one
after another in the same kernel, with the user namespace reset between notebooks, and the kernel
itself is forked from a warm server (forkserver.py). Kernels talk over IPC
sockets at unique temporary paths (TCP port picking races under parallel papermill runs), and
each kernel's environment carries only its own customer's secrets.
"""
from __future__ import annotations

import os
import queue
import shutil
import tempfile
import time
import uuid

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.utils import merge_kwargs, remove_args

from ..processes import kill_group
from ..i18n import _
from .forkserver import ForkProvisioner, ForkServer, describe_exit

ENGINE_NAME = "playbook-shared-kernel"
_SET_ENV_CODE = "import os as _o; _o.environ.update({values!r}); del _o"
# Like %reset -f, but without its gc.collect() (hundreds of ms once pandas is loaded): drop every
# user variable and cached output so one notebook cannot see another's state.
_RESET_CODE = """
_ip = get_ipython()
for _name in [n for n in _ip.user_ns if n not in _ip.user_ns_hidden and n != "_ip"]:
    del _ip.user_ns[_name]
_ip.user_ns["Out"].clear()
import os as _os; _os.chdir({cwd!r}); del _os, _ip, _name
"""


class CustomerKernel:
    """A started kernel that many notebooks can execute in (see SharedKernelEngine)."""

    def __init__(self, env: dict[str, str], *, cwd: str | os.PathLike, server: ForkServer,
                 kernel_name: str = "python3", startup_timeout: float = 60.0) -> None:
        self.env = env
        self.server = server
        self.cwd = str(cwd)
        self.kernel_name = kernel_name
        self.startup_timeout = startup_timeout
        self.km: AsyncKernelManager | None = None
        self.kc = None  # one client for all notebooks: connecting a new one costs ~0.2 s each time
        self._socket_dir: str | None = None

    def launch(self, timeout: float | None = None) -> "CustomerKernel":
        """Fork the kernel from the warm server (see forkserver.py) and return at once;
        TimeoutError if the server does not answer within `timeout` seconds."""
        # A short path: unix socket paths are limited to about 100 characters.
        self._socket_dir = tempfile.mkdtemp(prefix="pbk-", dir="/tmp" if os.path.isdir("/tmp") else None)
        self.km = AsyncKernelManager(kernel_name=self.kernel_name, transport="ipc",
                                     connection_file=os.path.join(self._socket_dir, "k.json"))
        self.km.kernel_id = str(uuid.uuid4())
        self.km.fork_server = self.server
        self.km.fork_launch_timeout = timeout
        self.km.provisioner = ForkProvisioner(kernel_id=self.km.kernel_id, kernel_spec=self.km.kernel_spec,
                                              parent=self.km)
        run_sync(self.km.start_kernel)(env=self.env, cwd=self.cwd)
        return self

    def connect(self, timeout: float | None = None) -> "CustomerKernel":
        """Open the one client the notebooks share and wait (at most `timeout` s) until the kernel answers."""
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            run_sync(self._wait_for_ready)(self.startup_timeout if timeout is None else timeout)
        except BaseException:
            self.shutdown()
            raise
        return self

    async def _wait_for_ready(self, timeout: float) -> None:
        # jupyter_client's wait_for_ready ends by draining IOPub for a fixed 0.2 s. Waiting instead
        # for the IOPub 'idle' of our own kernel_info request proves both channels work, at once.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not await self.km.is_alive():
                raise RuntimeError(_("the kernel died while starting"))
            msg_id = self.kc.kernel_info()
            try:
                while True:
                    msg = await self.kc.get_iopub_msg(timeout=0.5)
                    if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                            and msg["content"].get("execution_state") == "idle"):
                        return
            except queue.Empty:
                continue  # not subscribed yet, or still booting: ask again
        raise TimeoutError(_("the kernel did not answer within {seconds} s").format(seconds=f"{timeout:g}"))

    def set_environment(self, values: dict[str, str]) -> None:
        """Add variables to the kernel's os.environ (a customer's secrets), silently: nothing is
        echoed, kept in history or written to any notebook."""
        msg_id = self.kc.execute(_SET_ENV_CODE.format(values=values), silent=True, store_history=False)
        reply = run_sync(self.kc.get_shell_msg)(timeout=30)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = run_sync(self.kc.get_shell_msg)(timeout=30)
        if reply["content"].get("status") != "ok":
            raise RuntimeError(_("could not set the kernel's environment"))

    @property
    def returncode(self) -> int | None:
        """The kernel process's exit code (negative: killed by that signal), None while it runs."""
        process = getattr(self.km.provisioner, "process", None) if self.km is not None else None
        return process.poll() if process is not None else None

    def exit_description(self, wait: float = 1.0) -> str:
        """How the kernel ended ('exit code 1', 'killed by SIGKILL'), waiting briefly for the reap."""
        deadline = time.monotonic() + wait
        while self.returncode is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return describe_exit(self.returncode)

    def shutdown(self) -> None:
        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None
        if self.km is not None:
            # Kill and move on: the fork server reaps it; waiting here would cost ~0.1-0.2 s.
            if getattr(self.km.provisioner, "pgid", None):
                kill_group(self.km.provisioner.pgid)
            try:
                run_sync(self.km.cleanup_resources)()
            except Exception:  # connection files already gone: nothing left to clean
                pass
            self.km = None
        if self._socket_dir:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None


class _SharedKernelClient(PapermillNotebookClient):
    """Papermill's client, resetting the namespace first and leaving the kernel running."""

    def papermill_execute_cells(self):
        cwd = getattr(self, "_playbook_cwd", None)
        if cwd:
            msg_id = self.kc.execute(_RESET_CODE.format(cwd=cwd), silent=True, store_history=False)
            self.wait_for_reply(msg_id)
        try:
            return super().papermill_execute_cells()
        finally:
            renumber_cells(self.nb)


def renumber_cells(nb) -> None:
    """Number the executed code cells 1, 2, ... (and their results), as a fresh kernel would.

    The shared kernel's counter keeps growing across a customer's notebooks. Renumbering the
    notebook in memory, before papermill writes it, costs microseconds; resetting the kernel's
    counter instead would also need a new IPython history session per notebook (SQLite writes),
    because the history keys each input by session and line number.
    """
    number = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code" or cell.get("execution_count") is None:
            continue
        number += 1
        cell["execution_count"] = number
        for output in cell.get("outputs", []):
            if "execution_count" in output:
                output["execution_count"] = number


class SharedKernelEngine(NBClientEngine):
    """A papermill engine that executes in an already started CustomerKernel."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None, stderr_file=None,
                                 start_timeout=60, execution_timeout=None, customer_kernel=None, **kwargs):
        if customer_kernel is None or customer_kernel.km is None:
            raise ValueError("SharedKernelEngine needs customer_kernel=<started CustomerKernel>")
        kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
        final = merge_kwargs(kwargs, timeout=execution_timeout, startup_timeout=start_timeout,
                             kernel_name=kernel_name, log_output=log_output, stdout_file=stdout_file,
                             stderr_file=stderr_file)
        client = _SharedKernelClient(nb_man, km=customer_kernel.km, **final)
        client.kc = customer_kernel.kc
        client._playbook_cwd = customer_kernel.cwd
        return client.execute()


papermill_engines.register(ENGINE_NAME, SharedKernelEngine)
