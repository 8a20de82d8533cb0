"""The webhook store's schema: its tables, the columns added since, and `connect`.

Tables:
- `deliveries`: every accepted POST body, byte for byte (for audit), once per distinct body.
- `events`: one row per change (`entry[].changes[]`), its value kept whole as JSON; malformed
  bodies get one flagged row with the problem.
- `messages` and `statuses`: the `messages` field split into rows, deduplicated by message id
  and by (message id, status, timestamp), so Meta's retries are stored once. Every message type
  gets a readable `text` (body, caption, reply title, emoji, location, contact names, order items,
  system notice, error title).
- Group changes (`group_*_update`) and account-level changes stay in `events`, value whole.

Columns added after the first release are added to older store files when they are opened.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    body_sha256 TEXT NOT NULL UNIQUE,
    body BLOB NOT NULL,
    problem TEXT,
    received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES deliveries(id),
    field TEXT,
    waba_id TEXT,
    value TEXT,
    problem TEXT,
    received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    "from" TEXT,
    user_id TEXT,
    type TEXT,
    text TEXT,
    media_id TEXT,
    timestamp TEXT,
    phone_number_id TEXT,
    waba_id TEXT,
    display_phone_number TEXT,
    contact_name TEXT,
    event_id INTEGER NOT NULL REFERENCES events(id),
    received_at REAL NOT NULL,
    context_id TEXT,
    group_id TEXT,
    errors TEXT,
    error_code INTEGER
);
CREATE INDEX IF NOT EXISTS messages_received ON messages(received_at);
CREATE TABLE IF NOT EXISTS statuses (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL,
    status TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    recipient_id TEXT,
    recipient_user_id TEXT,
    errors TEXT,
    error_code INTEGER,
    billable INTEGER,
    pricing_model TEXT,
    pricing_type TEXT,
    category TEXT,
    phone_number_id TEXT,
    waba_id TEXT,
    event_id INTEGER NOT NULL REFERENCES events(id),
    received_at REAL NOT NULL,
    group_id TEXT,
    UNIQUE (message_id, status, timestamp)
);
"""

# Columns added after the first release: `connect` adds them to store files created before.
ADDED_COLUMNS = {
    "messages": (("context_id", "TEXT"), ("group_id", "TEXT"), ("errors", "TEXT"), ("error_code", "INTEGER")),
    "statuses": (("group_id", "TEXT"),),
}


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection with the store's settings and schema (creates the file and its folder if needed)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    _add_missing_columns(conn)
    return conn


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Bring a store file written by an older version up to the current columns (new ones read NULL)."""
    for table, columns in ADDED_COLUMNS.items():
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for name, kind in columns:
            if name in present:
                continue
            try:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):  # another connection added it meanwhile
                    raise
