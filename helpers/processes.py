"""Small process, port and environment utilities shared by the launchers (lab, the local webhook
receiver, the kernel fork server, the sandbox's peer)."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
from typing import Iterator, Mapping


@contextlib.contextmanager
def temporary_environ(values: Mapping[str, str]) -> Iterator[None]:
    """These variables in os.environ for the block (children started inside inherit them), then restored."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update({name: str(value) for name, value in values.items()})
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free right now (for a child process that binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def pid_alive(pid: int) -> bool:
    """Whether the process runs; a zombie (exited, not yet reaped) does not."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError, OverflowError):
        return False
    fields = _stat_fields(pid)
    return fields is None or fields[0] not in ("Z", "X")


def start_ticks(pid: int) -> int | None:
    """When the process started (clock ticks since boot): with the PID it names one process for good."""
    fields = _stat_fields(pid)
    try:
        return int(fields[19]) if fields else None  # field 22 of stat; fields[0] is field 3
    except (IndexError, ValueError):
        return None


def send_signal(pid: int, signum: int) -> None:
    """Signal the process (or, for a negative pid, the process group -pid), if it is still there."""
    try:
        if pid < 0:
            os.killpg(-pid, signum)
        else:
            os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def kill(pid: int) -> None:
    """SIGKILL the process, if it is still there."""
    send_signal(pid, signal.SIGKILL)


def kill_group(pgid: int) -> None:
    """SIGKILL the process group, if it is still there."""
    send_signal(-pgid, signal.SIGKILL)
