"""The webhook store: one SQLite file in WAL mode, written by the receiver, read as pandas tables.

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

The writer (`StoreWriter`) commits in groups on the receiver's event loop: every body that arrived
in one turn of the loop goes into one transaction, and each request is answered only after the
transaction holding its body has committed. With WAL and synchronous=NORMAL a commit is
a write to the WAL file, which survives the process being killed (not a power cut).
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from ..errors import ConfigError, WebhookWaitTimeout

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

# Group changes: the spec's samples say `group_participants_update` (as live Meta does), its enum
# `group_participant_update`; both are accepted.
GROUP_FIELDS = frozenset({
    "group_lifecycle_update", "group_participants_update", "group_participant_update", "group_settings_update",
    "group_status_update",
})
# Fields a WhatsApp Business Account subscription can deliver (reference §1.9). Others are kept but flagged.
# Written out rather than read from the spec: the receiver never parses YAML. tests/contract checks that
# every field the spec's samples and its `Change.field` enum use is here.
KNOWN_FIELDS = frozenset({
    "messages", "account_update", "account_alerts", "account_review_update", "business_capability_update",
    "phone_number_name_update", "phone_number_quality_update", "message_template_status_update",
    "message_template_quality_update", "message_template_components_update", "template_category_update",
    "security", "user_preferences", "history", "smb_app_state_sync", "smb_message_echoes", "message_echoes",
    "partner_solutions", "calls", "flows", "automatic_events", "payment_configuration_update",
}) | GROUP_FIELDS
MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})
# "read" implies "delivered" (Meta skips "delivered" when both happen at once), so waits compare ranks.
STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3, "played": 4, "failed": 5}


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


# --- parsing a delivery into rows (pure: no SQL, never raises on bad input) -------------------------

@dataclass
class _Change:
    field: str | None
    waba_id: str | None
    value: str | None
    problems: list[str] = field(default_factory=list)
    messages: list[tuple] = field(default_factory=list)
    statuses: list[tuple] = field(default_factory=list)


def _text(value: Any) -> str | None:
    """A value as SQLite text: strings as they are, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if -(2 ** 63) <= number < 2 ** 63 else None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _joined(parts: Iterable[Any], sep: str) -> str | None:
    return sep.join(part for part in parts if part) or None


def _location(part: dict) -> str | None:
    # "lat,long name": the coordinates always, then the place's name (or its address).
    where = _joined((_text(part.get("latitude")), _text(part.get("longitude"))), ",")
    return _joined((where, _text(part.get("name") or part.get("address"))), " ")


def _contact_names(cards: Any) -> str | None:
    names = []
    for card in cards if isinstance(cards, list) else []:
        name = _dict(_dict(card).get("name"))
        names.append(_text(name.get("formatted_name"))
                     or _joined((_text(name.get("first_name")), _text(name.get("last_name"))), " "))
    return _joined(names, ", ")


def _order(part: dict) -> str | None:
    items = [f"{_text(item.get('quantity'))} × {_text(item.get('product_retailer_id'))}"
             for item in (part.get("product_items") or []) if isinstance(item, dict)]
    return _joined((_text(part.get("text")), _joined(items, ", ")), ": ")


def _error_title(errors: Any) -> str | None:
    first = _dict(errors[0]) if isinstance(errors, list) and errors else {}
    return _text(first.get("title") or first.get("message"))


def _text_and_media_id(message: dict) -> tuple[str | None, str | None]:
    """The message as one readable line for the `text` column, and the media id to download, if any."""
    kind = message.get("type")
    part = _dict(message.get(kind)) if isinstance(kind, str) else {}
    if kind == "text":
        return _text(part.get("body")), None
    if kind in MEDIA_TYPES:
        return _text(part.get("caption") or part.get("filename")), _text(part.get("id"))
    if kind == "button":
        return _text(part.get("text") or part.get("payload")), None
    if kind == "interactive":
        reply = _dict(part.get("button_reply") or part.get("list_reply"))
        flow = _dict(part.get("nfm_reply"))  # a Flow's answer: its body, the answers in the raw event
        return _text(reply.get("title") or flow.get("body") or flow.get("name")), None
    if kind == "reaction":
        return _text(part.get("emoji")), None
    if kind == "location":
        return _location(part), None
    if kind == "contacts":
        return _contact_names(message.get("contacts")), None
    if kind == "order":
        return _order(part), None
    if kind == "system":
        return _text(part.get("body")), None
    # unsupported, unknown and types added later: what Meta says went wrong, else any body or text.
    return _error_title(message.get("errors")) or _text(part.get("body") or part.get("text")), None


def _context_id(message: dict) -> str | None:
    """The business message this one answers (`context.id`) or reacts to (`reaction.message_id`)."""
    return _text(_dict(message.get("context")).get("id") or _dict(message.get("reaction")).get("message_id"))


def _split_messages(change: _Change, value: dict) -> None:
    metadata = _dict(value.get("metadata"))
    phone_number_id = _text(metadata.get("phone_number_id"))
    display_phone_number = _text(metadata.get("display_phone_number"))
    contacts = [c for c in value.get("contacts") or [] if isinstance(c, dict)]
    # Contacts name the sender of a message or the recipient of a status, by phone number (wa_id)
    # or, for users known only by a business-scoped user id, by that id.
    by_id: dict[Any, dict] = {}
    for contact in contacts:
        for key in (contact.get("wa_id"), contact.get("user_id")):
            if key:
                by_id.setdefault(key, contact)
    only_contact = contacts[0] if len(contacts) == 1 else {}
    messages, statuses = value.get("messages") or [], value.get("statuses") or []
    if not isinstance(messages, list) or not isinstance(statuses, list):
        change.problems.append("'messages' or 'statuses' is not a list")
        return
    if not messages and not statuses and not value.get("errors"):
        change.problems.append("a 'messages' change with no messages, statuses or errors")
    for message in messages:
        if not isinstance(message, dict) or not message.get("id"):
            change.problems.append("a message without an id was not split into a row")
            continue
        contact = by_id.get(message.get("from")) or by_id.get(message.get("from_user_id")) or only_contact
        text, media_id = _text_and_media_id(message)
        errors = message.get("errors") or None
        change.messages.append((
            _text(message["id"]), _text(message.get("from")),
            _text(message.get("from_user_id") or contact.get("user_id")), _text(message.get("type")),
            text, media_id, _text(message.get("timestamp")), phone_number_id, change.waba_id,
            display_phone_number, _text(_dict(contact.get("profile")).get("name")),
            _context_id(message), _text(message.get("group_id")), _text(errors),
            _int(_dict(errors[0]).get("code")) if isinstance(errors, list) and errors else None,
        ))
    for status in statuses:
        if not isinstance(status, dict) or not status.get("id") or not status.get("status"):
            change.problems.append("a status without an id or status was not split into a row")
            continue
        errors = status.get("errors") or None
        first_error = _dict(errors[0]) if isinstance(errors, list) and errors else {}
        pricing = _dict(status.get("pricing"))
        billable = pricing.get("billable")
        to_group = status.get("recipient_type") == "group"
        # In a group, recipient_id is the group and the person is recipient_participant_id.
        contact = (by_id.get(status.get("recipient_participant_id") if to_group else status.get("recipient_id"))
                   or only_contact)
        change.statuses.append((
            _text(status["id"]), _text(status["status"]), _text(status.get("timestamp")) or "",
            _text(status.get("recipient_id")), _text(status.get("recipient_user_id") or contact.get("user_id")),
            _text(errors), _int(first_error.get("code")),
            int(billable) if isinstance(billable, bool) else None, _text(pricing.get("pricing_model")),
            _text(pricing.get("type")), _text(pricing.get("category")), phone_number_id, change.waba_id,
            _text(status.get("group_id") or (status.get("recipient_id") if to_group else None)),
        ))


def _check_groups(change: _Change, value: dict) -> None:
    """Group changes stay whole in `events`; only their shape is checked."""
    groups = value.get("groups")
    if not isinstance(groups, list) or not groups:
        change.problems.append("a group change with no 'groups' list")
    elif not all(isinstance(group, dict) and group.get("group_id") for group in groups):
        change.problems.append("a group without a 'group_id'")


def _parse_change(entry: dict, change: Any) -> _Change:
    waba_id = _text(entry.get("id"))
    if not isinstance(change, dict):
        return _Change(None, waba_id, _text(change), ["a change that is not an object"])
    name, value = change.get("field"), change.get("value")
    parsed = _Change(_text(name), waba_id, json.dumps(value, ensure_ascii=False))
    if not isinstance(name, str):
        parsed.problems.append("a change without a 'field'")
    elif name not in KNOWN_FIELDS:
        parsed.problems.append(f"unknown field {name!r} (kept whole)")
    if not isinstance(value, dict):
        parsed.problems.append("a change whose 'value' is not an object")
    elif name == "messages":
        _split_messages(parsed, value)
    elif name in GROUP_FIELDS:
        _check_groups(parsed, value)
    return parsed


def parse_delivery(body: bytes) -> tuple[str | None, list[_Change]]:
    """(problem with the body as a whole, or None; its changes). Never raises on bad input."""
    try:
        return _parse_delivery(body)
    except Exception as exc:  # a shape nobody anticipated: keep the body, flag it, carry on
        return f"could not be split into rows ({type(exc).__name__})", []


def _parse_delivery(body: bytes) -> tuple[str | None, list[_Change]]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return f"not JSON ({exc})", []
    except RecursionError:
        return "not JSON (nested too deeply)", []
    if not isinstance(payload, dict):
        return "not a JSON object", []
    if payload.get("object") != "whatsapp_business_account":
        return f"object is {payload.get('object')!r:.80}, not 'whatsapp_business_account'", []
    entries = payload.get("entry")
    if not isinstance(entries, list) or not entries:
        return "no 'entry' list", []
    changes: list[_Change] = []
    for entry in entries:
        entry_changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(entry_changes, list) or not entry_changes:
            changes.append(_Change(None, _text(_dict(entry).get("id")), _text(entry), ["an entry without 'changes'"]))
            continue
        changes.extend(_parse_change(entry, change) for change in entry_changes)
    return None, changes


# --- the writer ----------------------------------------------------------------------------------

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


# --- the read side -------------------------------------------------------------------------------

_PHONE_LIKE = re.compile(r"^\+?[0-9][0-9\s\-().]*$")


def _sender(number: str) -> str:
    """'+1 650-555-1234' -> '16505551234' (as Meta writes `from`); a BSUID is kept as it is."""
    text = str(number).strip()
    return re.sub(r"[^0-9]", "", text) if _PHONE_LIKE.match(text) else text


def _epoch(moment: float | int | str | datetime | pd.Timestamp) -> float:
    if isinstance(moment, (int, float)):
        return float(moment)
    stamp = pd.Timestamp(moment)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(datetime.now().astimezone().tzinfo)
    return stamp.timestamp()


def _utc_from_epoch(column: pd.Series) -> pd.Series:
    return pd.to_datetime(pd.to_numeric(column, errors="coerce"), unit="s", utc=True)


# Columns added later come last, so the earlier ones keep their positions.
MESSAGE_COLUMNS = ('id, "from", user_id, type, text, media_id, timestamp, phone_number_id, waba_id,'
                   ' display_phone_number, contact_name, received_at, context_id, group_id, errors, error_code')
STATUS_COLUMNS = ("message_id, status, timestamp, recipient_id, recipient_user_id, errors, error_code, billable,"
                  " pricing_model, pricing_type, category, phone_number_id, waba_id, received_at, group_id")


class WebhookStore:
    """Read the store as pandas DataFrames; safe while a receiver writes to the same file.

    >>> store = WebhookStore("webhooks.db")
    >>> store.messages(from_number="+16505551234")
    >>> store.wait_for_status(message_id, "delivered", timeout=60)
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        with closing(connect(self.path)):
            pass  # creates the file and schema, so reading works before the receiver starts

    def __repr__(self) -> str:
        return f"WebhookStore({self.path!r})"

    def _query(self, sql: str, params: Iterable[Any] = ()) -> pd.DataFrame:
        with closing(sqlite3.connect(self.path, timeout=30)) as conn:
            conn.execute("PRAGMA query_only=ON")
            return pd.read_sql_query(sql, conn, params=list(params))

    @staticmethod
    def _times(frame: pd.DataFrame) -> pd.DataFrame:
        for column in ("timestamp", "received_at"):
            if column in frame:
                frame[column] = _utc_from_epoch(frame[column])
        return frame

    def messages(self, phone_number_id: str | None = None, from_number: str | None = None) -> pd.DataFrame:
        """Incoming messages, oldest first. `from_number` accepts '+16505551234', '16505551234' or a BSUID.

        `text` is a readable line for every type; `context_id` the message replied or reacted to;
        `errors` (JSON) and `error_code` are set for messages Meta could not deliver in full (unsupported).
        """
        return self._message_types(self._query(*self._messages_sql(phone_number_id, from_number)))

    def _message_types(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame = self._times(frame)
        frame["error_code"] = frame["error_code"].astype("Int64")
        return frame

    def _messages_sql(self, phone_number_id, from_number, since=None, latest_only=False) -> tuple[str, list]:
        where, params = [], []
        if phone_number_id:
            where.append("phone_number_id = ?")
            params.append(str(phone_number_id).strip())
        if from_number:
            where.append('("from" = ? OR user_id = ?)')
            params += [_sender(from_number)] * 2
        if since is not None:
            where.append("received_at >= ?")
            params.append(_epoch(since))
        sql = f"SELECT {MESSAGE_COLUMNS} FROM messages" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY received_at DESC, rowid DESC LIMIT 1" if latest_only else " ORDER BY received_at, rowid"
        return sql, params

    def statuses(self, message_id: str | None = None) -> pd.DataFrame:
        """Statuses of sent messages, in arrival order; `errors` is JSON text, `error_code` the first error's code."""
        sql = f"SELECT {STATUS_COLUMNS} FROM statuses"
        params = []
        if message_id:
            sql += " WHERE message_id = ?"
            params.append(str(message_id))
        return self._status_types(self._query(sql + " ORDER BY received_at, id", params))

    def _status_types(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame = self._times(frame)
        frame["billable"] = frame["billable"].astype("boolean")
        frame["error_code"] = frame["error_code"].astype("Int64")
        return frame

    def latest_statuses(self) -> pd.DataFrame:
        """One row per message id: its latest status (by timestamp, then sent < delivered < read < played < failed)."""
        frame = self.statuses()
        rank = frame["status"].map(STATUS_RANK).fillna(0)
        order = frame.assign(_rank=rank).sort_values(["timestamp", "_rank", "received_at"], kind="stable",
                                                     na_position="first")
        return order.drop_duplicates("message_id", keep="last").drop(columns="_rank").reset_index(drop=True)

    def events(self, field: str | None = None) -> pd.DataFrame:
        """One row per change (value kept whole as JSON), plus one flagged row per malformed body."""
        sql = "SELECT id, delivery_id, field, waba_id, value, problem IS NOT NULL AS flagged, problem, received_at FROM events"
        params = []
        if field:
            sql += " WHERE field = ?"
            params.append(field)
        frame = self._times(self._query(sql + " ORDER BY id", params))
        frame["flagged"] = frame["flagged"].astype(bool)
        return frame

    def deliveries(self) -> pd.DataFrame:
        """Every distinct accepted POST body, byte for byte, for audit."""
        frame = self._times(self._query(
            "SELECT id, body_sha256, body, problem IS NOT NULL AS flagged, problem, received_at FROM deliveries ORDER BY id"))
        frame["flagged"] = frame["flagged"].astype(bool)
        return frame

    def wait_for_message(self, from_number: str | None = None, phone_number_id: str | None = None,
                         timeout: float = 30, since: float | str | datetime | None = None,
                         poll: float = 0.05) -> dict:
        """The latest message matching the filters, waiting up to `timeout` seconds for one.

        `since` (epoch seconds or a datetime) ignores messages received before it; without it, a
        message already stored counts. Raises WebhookWaitTimeout (a TimeoutError) saying what was seen instead.
        """
        sql, params = self._messages_sql(phone_number_id, from_number, since, latest_only=True)
        row = self._poll(sql, params, timeout, poll, lambda frame: frame, self._message_types)
        if row is not None:
            return row
        wanted = "message" + (f" from {_sender(from_number)}" if from_number else "") + (
            f" to phone number id {phone_number_id}" if phone_number_id else "")
        latest = self._query(self._messages_sql(None, None, latest_only=True)[0])
        seen = ("the store has no messages at all" if latest.empty else
                f"the latest stored message is from {latest['from'][0]} to phone number id {latest['phone_number_id'][0]}")
        raise WebhookWaitTimeout(
            f"No {wanted} arrived within {timeout:g} s ({seen}; store {self.path}). Check that the app is "
            "subscribed to the WABA, that the callback URL points at this receiver, and that the consumer "
            "sent the message to the right number.")

    def wait_for_status(self, message_id: str, status: str, timeout: float = 30, poll: float = 0.05) -> dict:
        """The status row once message `message_id` reaches `status`, or a 'failed' one as soon as it arrives.

        A later status counts: 'read' satisfies a wait for 'delivered'. Raises WebhookWaitTimeout (a TimeoutError)
        listing the statuses seen.
        """
        if status not in STATUS_RANK:
            raise ConfigError(f"status must be one of {', '.join(STATUS_RANK)}, got {status!r}.")
        wanted = STATUS_RANK[status]

        def pick(frame: pd.DataFrame) -> pd.DataFrame:
            failed = frame[frame["status"] == "failed"]
            if not failed.empty:
                return failed.head(1)
            rank = frame["status"].map(STATUS_RANK).fillna(0)
            reached = frame[rank >= wanted]
            exact = reached[reached["status"] == status]
            return (exact if not exact.empty else reached).head(1)

        sql = f"SELECT {STATUS_COLUMNS} FROM statuses WHERE message_id = ? ORDER BY received_at, id"
        row = self._poll(sql, [str(message_id)], timeout, poll, pick, self._status_types)
        if row is not None:
            return row
        seen = self._query("SELECT status FROM statuses WHERE message_id = ? ORDER BY received_at, id", [str(message_id)])
        raise WebhookWaitTimeout(
            f"Message {message_id} did not reach status {status!r} within {timeout:g} s (statuses seen: "
            f"{', '.join(seen['status']) or 'none'}; store {self.path}). No statuses at all usually means the "
            "webhook is not subscribed or points elsewhere; 'sent' without 'delivered' means the phone has not "
            "received it yet.")

    def _poll(self, sql: str, params: list, timeout: float, poll: float, pick, types) -> dict | None:
        """The first row `pick` keeps from the query, polling until `timeout`; None when none came."""
        deadline = time.monotonic() + timeout
        while True:
            frame = pick(self._query(sql, params))
            if not frame.empty:
                return types(frame.copy()).iloc[0].to_dict()
            if time.monotonic() >= deadline:
                return None
            time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
