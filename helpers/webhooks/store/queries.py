"""The webhook store's read side: `WebhookStore`, its tables as pandas DataFrames, and waits for rows."""
from __future__ import annotations

import re
import sqlite3
import time
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from ...errors import ConfigError, WebhookWaitTimeout
from .schema import connect

# "read" implies "delivered" (Meta skips "delivered" when both happen at once), so waits compare ranks.
STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3, "played": 4, "failed": 5}
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
