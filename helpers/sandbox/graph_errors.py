"""The error envelopes the sandbox answers with, worded and coded as Meta's Graph API does.

Source: docs/meta-facts.md (errors) and the spec in helpers/spec/. Deliberately independent of
helpers/remedies.py: the sandbox plays Meta, so it knows Meta's texts, never the playbook's advice.
"""
from __future__ import annotations

import base64
import datetime as dt
import os
from typing import Any

ERROR_CODES_HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

# WhatsApp codes: code -> (title, HTTP status). The synchronous message is "(#code) title".
WHATSAPP_ERRORS: dict[int, tuple[str, int]] = {
    130429: ("Rate limit hit", 400),
    131005: ("Access denied", 403),
    131009: ("Parameter value is not valid", 400),
    131021: ("Recipient cannot be sender", 400),
    131026: ("Message Undeliverable", 400),
    131030: ("Recipient phone number not in allowed list", 400),
    131045: ("Incorrect certificate", 500),
    131047: ("Re-engagement message", 400),
    131042: ("Business eligibility payment issue", 400),
    132001: ("Template name does not exist in the translation", 400),
    133005: ("Two step verification PIN Mismatch", 400),
    133006: ("Phone number re-verification needed", 400),
    133008: ("Too Many two step verification PIN Guesses", 400),
    133010: ("Account not registered", 400),
    133016: ("Account register deregister rate limit exceeded", 400),
    136025: ("Verify code error", 400),
}

# Meta tags a few WhatsApp errors with this subcode (reference section 2 examples).
WHATSAPP_SUBCODES = {130429: 2494055, 131030: 2494055}


# Every (code, subcode) the sandbox answers with, synchronously or in a webhook's errors[]: the
# remedy catalogue (helpers/remedies.py) must have an entry of its own for each, and
# tests/test_remedies.py finds every error the sandbox's modules raise and checks it is listed here,
# so a new error cannot land without its remedy.
SANDBOX_ERRORS: frozenset[tuple[int, int | None]] = frozenset({
    (1, None), (2, None), (15, None), (100, None), (100, 33), (100, 2388024), (100, 36007), (100, 36009),
    (101, None), (104, None), (190, None), (190, 463), (200, None), (2200, None), (2500, None),
    (131000, None), (131026, None), (131031, None), (131042, None), (131047, None), (80007, None),
    *((code, WHATSAPP_SUBCODES.get(code)) for code in WHATSAPP_ERRORS),
})


def new_trace_id() -> str:
    """An fbtrace_id / x-fb-trace-id lookalike (23 URL-safe characters)."""
    return base64.urlsafe_b64encode(os.urandom(18)).decode("ascii")[:23]


class GraphError(Exception):
    """An error the sandbox answers with: Meta's code, subcode, type, message, details and HTTP status."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        http_status: int = 400,
        type: str = "OAuthException",
        subcode: int | None = None,
        details: str | None = None,
        is_transient: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.type = type
        self.subcode = subcode
        self.details = details
        self.is_transient = is_transient

    def envelope(self, fbtrace_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        if self.is_transient is not None:
            error["is_transient"] = self.is_transient
        error["fbtrace_id"] = fbtrace_id
        return {"error": error}

    @property
    def www_authenticate(self) -> str | None:
        """Graph adds this header to token errors."""
        if self.code in (104, 190):
            return f'OAuth "Facebook Platform" "invalid_token" "{self.message}"'
        return None


def whatsapp(code: int, details: str) -> GraphError:
    """A WhatsApp error answered synchronously: "(#code) title" with error_data.details."""
    title, status = WHATSAPP_ERRORS[code]
    return GraphError(code, f"(#{code}) {title}", http_status=status, subcode=WHATSAPP_SUBCODES.get(code),
                      details=details, is_transient=code == 130429 or None)


def webhook_error(code: int, details: str) -> dict[str, Any]:
    """The same error as it appears in a status webhook's errors[] (asynchronous)."""
    title, _ = WHATSAPP_ERRORS[code]
    return {"code": code, "title": title, "message": title, "error_data": {"details": details}, "href": ERROR_CODES_HREF}


# --- Graph-level errors -------------------------------------------------------------------

def unsupported_request(method: str, object_id: str) -> GraphError:
    """100/33: wrong ID, or an object the token cannot see (the two are indistinguishable on purpose)."""
    return GraphError(
        100,
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation. Please read the Graph API documentation at "
        "https://developers.facebook.com/docs/graph-api",
        type="GraphMethodException", subcode=33,
    )


def unknown_path(path: str) -> GraphError:
    return GraphError(2500, f"Unknown path components: {path}")


def nonexisting_field(field: str, node_type: str) -> GraphError:
    return GraphError(100, f"(#100) Tried accessing nonexisting field ({field}) on node type ({node_type})")


def not_emulated(method: str, edge: str) -> GraphError:
    """An edge Meta serves that the sandbox does not emulate: said plainly, not disguised as a wrong ID."""
    return GraphError(100, f"(#100) {method} /{edge} is part of Meta's API but not emulated by the sandbox "
                           "(docs/sandbox.md lists what is).")


def parameter_required(name: str) -> GraphError:
    return GraphError(100, f"(#100) The parameter {name} is required.")


def invalid_parameter(details: str) -> GraphError:
    return GraphError(100, "(#100) Invalid parameter", details=details)


def param_enum(name: str, allowed: list[str], got: str) -> GraphError:
    return GraphError(100, f"(#100) Param {name} must be one of {{{', '.join(allowed)}}} - got \"{got}\".")


def missing_token() -> GraphError:
    return GraphError(104, "An access token is required to request this resource.")


def unparsable_token() -> GraphError:
    return GraphError(190, "Invalid OAuth access token - Cannot parse access token", http_status=401)


def token_expired(expired_at: float, now: float) -> GraphError:
    return GraphError(
        190,
        f"Error validating access token: Session has expired on {_pacific(expired_at)}. "
        f"The current time is {_pacific(now)}.",
        http_status=401, subcode=463,
    )


def permissions_error(details: str) -> GraphError:
    return GraphError(200, "(#200) Permissions error", http_status=403, details=details)


def app_token_required() -> GraphError:
    return GraphError(15, "(#15) This method must be called with an app access_token.")


def app_mismatch() -> GraphError:
    return GraphError(100, "(#100) The App_id in the input_token did not match the Viewing App")


def override_before_subscription() -> GraphError:
    return GraphError(100, "(#100) Before override the current callback uri, your app must be subscribed to receive "
                           "messages for WhatsApp Business Account")


def callback_verification_failed(reason: str) -> GraphError:
    return GraphError(2200, f"(#2200) Callback verification failed with the following errors: {reason}")


def client_secret_invalid() -> GraphError:
    return GraphError(1, "Error validating client secret.")


def code_invalid() -> GraphError:
    return GraphError(100, "Invalid verification code format.")


def code_used() -> GraphError:
    return GraphError(100, "This authorization code has been used.", subcode=36009)


def code_expired() -> GraphError:
    return GraphError(100, "This authorization code has expired.", subcode=36007)


def _pacific(epoch: float) -> str:
    """Meta words token expiry in Pacific time: 'Friday, 26-Apr-24 06:00:00 PDT'."""
    try:
        from zoneinfo import ZoneInfo
        when = dt.datetime.fromtimestamp(epoch, ZoneInfo("America/Los_Angeles"))
    except Exception:  # no tz database on this machine: UTC is still a readable answer
        when = dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
    return when.strftime("%A, %d-%b-%y %H:%M:%S %Z")
