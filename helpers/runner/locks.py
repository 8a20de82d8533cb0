"""One run per customer at a time on a machine: advisory locks on a WABA and on an app's callback.

A lock is an `fcntl.flock` on a file of the lock folder (PLAYBOOK_LOCK_DIR, default
/tmp/whatsapp-playbook-locks-<uid>), one file per key: `waba-<id>` (the customer's account) and
`app-<id>` (the app whose one webhook callback a batch points at its receiver, steps 04, 09, 10).
File names carry a short hash of the Graph host:port, so two independent sandboxes on one machine
never block each other. The file holds JSON {batch_id, pid, command, started_at, role} of the holder
for the run that is refused. The kernel drops a flock when its process dies (SIGKILL included): a file
left behind is no lock, only the flock counts.

Who takes what: `run_batch` takes the WABA lock of every profile and the app lock of every app whose
callback it will point at its receiver, for the whole batch (role "batch"). `run_customer`, also called
on its own (Airflow), takes the WABA lock itself unless the batch named by `held_by` holds it, and
refuses when another batch holds the app lock. A refusal is `LockHeld` (a ConfigError: exit 2).

Airflow workers on several machines share no flock: there the DAG's listing task checks that profiles
sharing an app name one callback (`callback_conflicts`).
"""
from __future__ import annotations

import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

from ..errors import ConfigError
from ..i18n import _
from ..parameters import ENV_FALLBACKS, PARAMS
from ..processes import pid_alive

LOCK_DIR_ENV = "PLAYBOOK_LOCK_DIR"
# Steps that set the app's callback (04) or rely on it reaching this run's receiver (09, 10).
CALLBACK_STEPS = ("04", "09", "10")
BATCH, CUSTOMER = "batch", "customer"
_READ_TRIES, _READ_PAUSE_S = 20, 0.025   # the holder writes its JSON just after taking the flock


def lock_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The lock folder: PLAYBOOK_LOCK_DIR, else one per user under /tmp (ours only: 0700)."""
    environ = os.environ if environ is None else environ
    folder = Path(environ.get(LOCK_DIR_ENV) or f"/tmp/whatsapp-playbook-locks-{os.getuid()}")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def scope(graph_url: str) -> str:
    """A short hash of the Graph URL's host:port: the same account on two sandboxes is two accounts."""
    parts = urlsplit(str(graph_url))
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return hashlib.sha256(f"{host}:{port}".encode()).hexdigest()[:10]


def graph_url_of(profile: Mapping[str, Any], overrides: Mapping[str, Any] | None = None,
                 environ: Mapping[str, str] | None = None) -> str:
    """The Graph URL a customer's steps call: the runner's override, the profile's, the env's, the default."""
    environ = os.environ if environ is None else environ
    return str((overrides or {}).get("graph_url") or profile.get("graph_url")
               or environ.get(ENV_FALLBACKS["graph_url"]) or PARAMS["graph_url"].default)


def waba_key(profile: Mapping[str, Any]) -> str | None:
    return f"waba-{profile['waba_id']}" if profile.get("waba_id") else None


def app_key(profile: Mapping[str, Any], steps: Iterable[str]) -> str | None:
    """The app lock, when one of the chosen steps sets or relies on the app's callback."""
    if not profile.get("app_id") or not any(str(s).startswith(CALLBACK_STEPS) for s in steps):
        return None
    return f"app-{profile['app_id']}"


def lock_path(key: str, graph_url: str, directory: Path | None = None) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", key)
    return (directory or lock_dir()) / f"{safe}.{scope(graph_url)}.lock"


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as its file says."""
    key: str
    path: str
    batch_id: str = ""
    pid: int = 0
    command: str = ""
    started_at: str = ""
    role: str = ""


class LockHeld(ConfigError):
    """Another run holds a lock this run needs; says who, and what to do."""

    def __init__(self, holder: Holder, graph_url: str) -> None:
        self.holder = holder
        what = (_("this WABA") if holder.key.startswith("waba-")
                else _("this app's webhook callback (an app has one endpoint)"))
        who = _("batch {batch_id} (pid {pid}: {command}, since {started_at})").format(
            batch_id=holder.batch_id or "?", pid=holder.pid or "?", command=holder.command or _("command unknown"),
            started_at=holder.started_at or "?")
        if holder.pid:
            message = _("{key} on {host} is held by {holder}: another run of {what} is in progress on this machine. "
                        "Wait for it to finish, or `kill {pid}` if it is stuck; then run again (lock file {path}).")
        else:
            message = _("{key} on {host} is held by {holder}: another run of {what} is in progress on this machine. "
                        "Wait for it to finish, or stop it if it is stuck; then run again (lock file {path}).")
        super().__init__(message.format(key=holder.key, host=_host(graph_url), holder=who, what=what, pid=holder.pid,
                                        path=holder.path))


def _host(graph_url: str) -> str:
    parts = urlsplit(str(graph_url))
    return parts.netloc or str(graph_url)


class Lock:
    """One held flock; `release` (or the process's end) frees it."""

    def __init__(self, key: str, graph_url: str, fd: int, path: Path) -> None:
        self.key, self.graph_url, self.path, self._fd = key, graph_url, path, fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the only descriptor drops the flock; the file stays, harmless

    def __repr__(self) -> str:
        return f"Lock({self.key!r}, {_host(self.graph_url)!r}, {'held' if self.held else 'released'})"


def acquire(key: str, graph_url: str, *, batch_id: str, role: str = BATCH, command: str | None = None,
            directory: Path | None = None) -> Lock:
    """Take the lock now or raise LockHeld naming its holder; never waits for it."""
    path = lock_path(key, graph_url, directory)
    # os.open's descriptors are not inherited across exec: the sandbox, receivers and kernels the batch
    # starts never keep its lock alive after it dies.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        for attempt in range(3):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                found = _read(path, key)
                # A live holder refuses us at once; a peer's probe (`holder`) holds its shared lock for an instant.
                if attempt == 2 or (found.pid and _alive(found.pid)):
                    raise LockHeld(found, graph_url) from None
                time.sleep(0.1)
        info = {"batch_id": batch_id, "pid": os.getpid(), "command": _command(command), "role": role,
                "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        data = json.dumps(info).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
    except BaseException:
        os.close(fd)
        raise
    return Lock(key, graph_url, fd, path)


def holder(key: str, graph_url: str, directory: Path | None = None) -> Holder | None:
    """Who holds the lock now, or None when it is free (a file without a flock is free)."""
    path = lock_path(key, graph_url, directory)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            # Shared, so two probes never refuse each other; an exclusive holder refuses it.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return None
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
    finally:
        os.close(fd)
    return _read(path, key)


def _read(path: Path, key: str) -> Holder:
    for _attempt in range(_READ_TRIES):
        try:
            info = json.loads(path.read_text(encoding="utf-8") or "null")
        except (OSError, ValueError):
            info = None
        if isinstance(info, dict):
            return Holder(key, str(path), str(info.get("batch_id") or ""), int(info.get("pid") or 0),
                          str(info.get("command") or ""), str(info.get("started_at") or ""),
                          str(info.get("role") or ""))
        time.sleep(_READ_PAUSE_S)
    return Holder(key, str(path))


def _alive(pid: int) -> bool:
    return pid_alive(pid)


def _command(command: str | None) -> str:
    # The command line of `helpers run` holds paths and flags, never secrets (those are env var names).
    if command is None:
        program = Path(sys.argv[0]).name if sys.argv else ""
        if program == "__main__.py":  # `python -m helpers run ...`
            program = f"python -m {Path(sys.argv[0]).parent.name}"
        command = " ".join([program, *sys.argv[1:]]).strip()
    text = command
    return text if len(text) <= 300 else text[:297] + "..."


class LockSet:
    """The locks of one batch: all taken (sorted, so two batches never deadlock) or none."""

    def __init__(self, batch_id: str, *, role: str = BATCH, command: str | None = None,
                 directory: Path | None = None) -> None:
        self.batch_id, self.role, self.command, self.directory = batch_id, role, command, directory
        self.locks: list[Lock] = []

    def acquire(self, wanted: Iterable[tuple[str, str]]) -> "LockSet":
        have = {(lock.key, scope(lock.graph_url)) for lock in self.locks}
        todo = {(key, scope(url)): (key, url) for key, url in wanted if key}
        try:
            for ident in sorted(set(todo) - have):
                key, url = todo[ident]
                self.locks.append(acquire(key, url, batch_id=self.batch_id, role=self.role, command=self.command,
                                          directory=self.directory))
        except BaseException:
            self.release()
            raise
        return self

    def release(self) -> None:
        for lock in reversed(self.locks):
            lock.release()
        self.locks.clear()

    def __enter__(self) -> "LockSet":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def batch_wants(profiles: Iterable[Mapping[str, Any]], steps: Iterable[str],
                graph_urls: Iterable[str]) -> list[tuple[str, str]]:
    """(key, graph_url) of every lock a batch takes: each profile's WABA, and its app when a callback step runs."""
    steps = list(steps)
    wanted = []
    for profile, url in zip(profiles, graph_urls):
        wanted += [(key, url) for key in (waba_key(profile), app_key(profile, steps)) if key]
    return wanted


def refusals(wanted: Iterable[tuple[str, str]], directory: Path | None = None,
             allow_batch: str | None = None) -> list[LockHeld]:
    """The locks of `wanted` held by someone (other than batch `allow_batch`), without taking any."""
    found, seen = [], set()
    for key, url in wanted:
        if (key, scope(url)) in seen:
            continue
        seen.add((key, scope(url)))
        held = holder(key, url, directory)
        if held is not None and not (allow_batch and held.batch_id == allow_batch and held.role == BATCH):
            found.append(LockHeld(held, url))
    return found


def customer_lock(profile: Mapping[str, Any], graph_url: str, steps: Iterable[str], *, batch_id: str,
                  held_by: str | None = None, directory: Path | None = None) -> Lock | None:
    """What `run_customer` holds while it runs: its WABA lock, or None when batch `held_by` holds it.

    Refuses (LockHeld) when another run holds the WABA, or another batch holds the app's callback.
    """
    key = waba_key(profile)
    app = app_key(profile, steps)
    if app:
        for refused in refusals([(app, graph_url)], directory, allow_batch=held_by):
            raise refused
    if key is None:
        return None
    if held_by:
        current = holder(key, graph_url, directory)
        if current is not None and current.batch_id == held_by and current.role == BATCH:
            return None
    return acquire(key, graph_url, batch_id=batch_id, role=CUSTOMER, directory=directory)


def callback_conflicts(profiles: Iterable[Mapping[str, Any]],
                       overrides: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """Profiles sharing an app_id whose callbacks differ, one line per app (empty: none).

    Runs on several machines (Airflow workers) share no flock; an app has one callback, so all its
    profiles must name the same callback_url, or one run would take the others' webhooks. A profile
    without one starts its own local receiver in 04: alone on its app that is fine, shared it is not.
    `overrides`: as the DAG run's conf gives them ({"*": {...}, "<customer>": {...}}), they win.
    """
    overrides = overrides or {}
    by_app: dict[str, dict[str, list[str]]] = {}
    for profile in profiles:
        if not profile.get("app_id"):
            continue
        customer = str(profile.get("customer"))
        chosen = {**profile, **(overrides.get("*") or {}), **(overrides.get(customer) or {})}
        # Each local receiver is a callback of its own.
        callback = str(chosen.get("callback_url")
                       or _("none (04 would start {customer}'s own local receiver)").format(customer=customer))
        by_app.setdefault(str(profile["app_id"]), {}).setdefault(callback, []).append(customer)
    lines = []
    for app_id, callbacks in sorted(by_app.items()):
        if len(callbacks) > 1:
            named = "; ".join(f"{', '.join(sorted(c))}: {url}" for url, c in sorted(callbacks.items()))
            lines.append(_("app {app_id} has one webhook callback, but its profiles name {count} ({named}): "
                           "give them one callback_url (one receiver, e.g. in the run's conf overrides), or onboard "
                           "them in separate runs.").format(app_id=app_id, count=len(callbacks), named=named))
    return lines
