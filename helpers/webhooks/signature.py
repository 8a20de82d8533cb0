"""X-Hub-Signature-256: HMAC-SHA256 of the raw body bytes, keyed with the app secret.

Always hash the exact bytes sent or received, never a re-serialized copy: Meta escapes
non-ASCII characters as \\uXXXX, so `json.dumps(json.loads(body))` is not the same bytes.
"""
from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Hub-Signature-256"
PREFIX = "sha256="


def sign(body: bytes, app_secret: str) -> str:
    """The header value Meta would send for `body`: 'sha256=<lowercase hex>'."""
    digest = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return PREFIX + digest


def is_valid(body: bytes, header_value: str | None, app_secret: str) -> bool:
    """Constant-time check of a received X-Hub-Signature-256 header against `body`."""
    if not header_value or not header_value.startswith(PREFIX):
        return False
    return hmac.compare_digest(sign(body, app_secret).encode("ascii"), header_value.strip().encode("ascii", "replace"))
