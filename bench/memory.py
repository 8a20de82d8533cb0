"""Peak memory of a run's whole process tree, as proportional set size (PSS).

PSS splits each shared page among the processes that map it (/proc/PID/smaps_rollup), so kernels
forked from one warm server are charged their share of its libraries once, not once each as the
resident set size (RSS) would. The sampler sums PSS over this process and all its descendants
every `every` seconds and keeps the peak, with what each kind of process held at that moment.
"""
from __future__ import annotations

import threading

import psutil

FORK_SERVER_MARK = "helpers.runner.forkserver"
MB = 2**20


def pss_bytes(pid: int) -> int:
    """The process's PSS in bytes (0 when it is gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def rss_bytes(process: psutil.Process) -> int:
    try:
        return process.memory_info().rss
    except psutil.Error:
        return 0


def _role(process: psutil.Process) -> str:
    # A forked kernel keeps its server's command line: the server is the one whose parent is not a server.
    try:
        if FORK_SERVER_MARK in " ".join(process.cmdline()):
            parent = process.parent()
            return "kernel" if parent and FORK_SERVER_MARK in " ".join(parent.cmdline()) else "fork server"
        return " ".join(process.cmdline()[:3])[:60] or process.name()
    except psutil.Error:
        return "gone"


class PeakPss:
    """Samples PSS (and RSS, for comparison) of this process and all its descendants."""

    def __init__(self, every: float = 0.2) -> None:
        self.me = psutil.Process()
        self.peak = 0
        self.before = 0  # the tree's PSS when sampling started
        self.peak_rss = 0
        self.peak_by_role: dict[str, tuple[int, int]] = {}  # role -> (processes, PSS bytes) at the peak
        self._every, self._stop = every, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> int:
        by_role: dict[str, tuple[int, int]] = {}
        total = rss = 0
        tree = [self.me, *self.me.children(recursive=True)]
        for process in tree:
            pss = pss_bytes(process.pid)
            total += pss
            rss += rss_bytes(process)
            role = "batch process" if process.pid == self.me.pid else _role(process)
            count, held = by_role.get(role, (0, 0))
            by_role[role] = (count + 1, held + pss)
        if total > self.peak:
            self.peak, self.peak_by_role = total, by_role
        self.peak_rss = max(self.peak_rss, rss)
        return total

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.sample()

    def breakdown(self) -> str:
        """'batch process 1 x 150 MB, fork server 1 x 55 MB, kernel 9 x 48 MB' at the peak."""
        order = ["batch process", "fork server", "kernel"]
        parts = []
        for role in sorted(self.peak_by_role, key=lambda r: (order.index(r) if r in order else len(order), r)):
            count, held = self.peak_by_role[role]
            parts.append(f"{role} {count} x {held / count / MB:,.0f} MB")
        return ", ".join(parts)

    def __enter__(self) -> "PeakPss":
        self.before = self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
