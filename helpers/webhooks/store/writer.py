"""The webhook store's writer (`StoreWriter`) and the outcomes of storing a body.

It commits in groups on the receiver's event loop: every body that arrived
in one turn of the loop goes into one transaction, and each request is answered only after the
transaction holding its body has committed. With WAL and synchronous=NORMAL a commit is
a write to the WAL file, which survives the process being killed (not a power cut).
"""
from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

from .parse import parse_delivery
from .schema import connect

STORED, DUPLICATE, FLAGGED = "stored", "duplicate", "flagged"


class StoreWriter:
    """The receiver's only writer. It lives on the event loop: call open, add and close from its thread.

    Group commit: the first `add()` in a turn of the loop begins a transaction and schedules its
    commit for the next turn; every body added meanwhile joins it. Each `add()` returns a future
    that resolves only once that transaction has committed, so no 200 is sent for an uncommitted
    body, and a busy receiver commits many bodies at once instead of falling behind. (A writer
    thread was measured slower: the GIL hand-offs between it and the loop cost more than SQLite.)
    """

    CHECKPOINT_EVERY_S = 1.0

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn: sqlite3.Connection | None = None
        self._waiting: list[tuple[asyncio.Future, str]] = []
        self._stop_checkpoints = threading.Event()
        self._checkpointer: threading.Thread | None = None

    def open(self) -> None:
        self._conn = connect(self.path)
        # Checkpoints fsync the database file; done on the loop, they would stall every request
        # for that long. A thread with its own connection does them instead.
        self._conn.execute("PRAGMA wal_autocheckpoint=0")
        self._stop_checkpoints.clear()
        self._checkpointer = threading.Thread(target=self._checkpoint_periodically, name="webhook-store-checkpoint",
                                              daemon=True)
        self._checkpointer.start()

    def _checkpoint_periodically(self) -> None:
        with closing(connect(self.path)) as conn:
            while not self._stop_checkpoints.wait(self.CHECKPOINT_EVERY_S):
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def add(self, body: bytes) -> asyncio.Future:
        """Store `body` in the current transaction. The future gives 'stored', 'flagged' (malformed,
        kept raw) or 'duplicate' (stored before) once committed, or the error that prevented it."""
        conn = self._conn
        if conn is None:
            raise RuntimeError("the store writer is not open")
        loop = asyncio.get_running_loop()
        if not conn.in_transaction:
            conn.execute("BEGIN")
            loop.call_soon(self._commit)
        # A savepoint per body: each is stored whole or not at all, whatever happens to the others.
        conn.execute("SAVEPOINT body")
        try:
            outcome = self._insert(conn, body)
        except BaseException:
            conn.execute("ROLLBACK TO body")
            raise
        finally:
            conn.execute("RELEASE body")
        future = loop.create_future()
        self._waiting.append((future, outcome))
        return future

    def _commit(self) -> None:
        waiting, self._waiting = self._waiting, []
        conn = self._conn
        if conn is None or not conn.in_transaction:
            return
        try:
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for future, _ in waiting:
                if not future.done():
                    future.set_exception(exc)
            return
        for future, outcome in waiting:
            if not future.done():
                future.set_result(outcome)

    def close(self) -> None:
        """Commit what was added and close."""
        if self._checkpointer is not None:
            self._stop_checkpoints.set()
            self._checkpointer.join()
            self._checkpointer = None
        if self._conn is not None:
            self._commit()
            self._conn.close()  # the last connection to close checkpoints the rest
            self._conn = None

    @staticmethod
    def _insert(conn: sqlite3.Connection, body: bytes) -> str:
        received_at = time.time()
        problem, changes = parse_delivery(body)
        problems = [problem] if problem else [p for change in changes for p in change.problems]
        cursor = conn.execute(
            "INSERT OR IGNORE INTO deliveries (body_sha256, body, problem, received_at) VALUES (?, ?, ?, ?)",
            (hashlib.sha256(body).hexdigest(), body, "; ".join(problems) or None, received_at))
        if cursor.rowcount == 0:
            return DUPLICATE
        delivery_id = cursor.lastrowid
        if problem:
            conn.execute("INSERT INTO events (delivery_id, problem, received_at) VALUES (?, ?, ?)",
                         (delivery_id, problem, received_at))
            return FLAGGED
        for change in changes:
            event_id = conn.execute(
                "INSERT INTO events (delivery_id, field, waba_id, value, problem, received_at) VALUES (?, ?, ?, ?, ?, ?)",
                (delivery_id, change.field, change.waba_id, change.value, "; ".join(change.problems) or None,
                 received_at)).lastrowid
            if change.messages:
                conn.executemany(
                    "INSERT OR IGNORE INTO messages (id, \"from\", user_id, type, text, media_id, timestamp,"
                    " phone_number_id, waba_id, display_phone_number, contact_name, context_id, group_id, errors,"
                    " error_code, event_id, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [row + (event_id, received_at) for row in change.messages])
            if change.statuses:
                conn.executemany(
                    "INSERT OR IGNORE INTO statuses (message_id, status, timestamp, recipient_id, recipient_user_id,"
                    " errors, error_code, billable, pricing_model, pricing_type, category, phone_number_id, waba_id,"
                    " group_id, event_id, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [row + (event_id, received_at) for row in change.statuses])
        return FLAGGED if problems else STORED
