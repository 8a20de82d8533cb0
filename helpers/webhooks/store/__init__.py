"""The webhook store: one SQLite file in WAL mode, written by the receiver, read as pandas tables.

The package's modules, each importing only the ones above it:
- `schema`: the tables (`SCHEMA`), the columns added after the first release (`ADDED_COLUMNS`)
  and `connect`, which brings older store files up to date when they are opened.
- `parse`: a delivery split into rows (`parse_delivery`; pure, no SQL) and the field lists
  (`KNOWN_FIELDS`, `GROUP_FIELDS`, `MEDIA_TYPES`).
- `writer`: `StoreWriter`, the receiver's group-committing writer.
- `queries`: `WebhookStore`, reading the tables as pandas DataFrames and waiting for rows.

>>> from helpers.webhooks.store import StoreWriter, WebhookStore
"""
from .parse import GROUP_FIELDS, KNOWN_FIELDS, MEDIA_TYPES, parse_delivery
from .queries import MESSAGE_COLUMNS, STATUS_COLUMNS, STATUS_RANK, WebhookStore
from .schema import ADDED_COLUMNS, SCHEMA, connect
from .writer import DUPLICATE, FLAGGED, STORED, StoreWriter

__all__ = [
    "ADDED_COLUMNS", "DUPLICATE", "FLAGGED", "GROUP_FIELDS", "KNOWN_FIELDS", "MEDIA_TYPES", "MESSAGE_COLUMNS",
    "SCHEMA", "STATUS_COLUMNS", "STATUS_RANK", "STORED", "StoreWriter", "WebhookStore", "connect", "parse_delivery",
]
