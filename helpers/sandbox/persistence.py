"""--state FILE: the sandbox's state as a snapshot in SQLite, so a trainee's progress survives a restart.

The whole model is small, so one JSON snapshot row is written (debounced) after changes
and once more on shutdown; on start, a saved snapshot wins over the seed.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

SCHEMA_VERSION = 1


class StateStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The server's loop thread does the writing; the constructor may run on another thread.
        self._db = sqlite3.connect(str(self.path), check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS snapshot ("
                         "id INTEGER PRIMARY KEY CHECK (id = 1), schema INTEGER NOT NULL, saved_at REAL NOT NULL, "
                         "data TEXT NOT NULL)")
        self._db.commit()

    def load(self) -> dict | None:
        row = self._db.execute("SELECT schema, data FROM snapshot WHERE id = 1").fetchone()
        if row is None or row[0] != SCHEMA_VERSION:
            return None
        return json.loads(row[1])

    def save(self, snapshot: dict) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO snapshot (id, schema, saved_at, data) VALUES (1, ?, ?, ?)",
                             (SCHEMA_VERSION, time.time(), json.dumps(snapshot, separators=(",", ":"))))

    def close(self) -> None:
        self._db.close()
