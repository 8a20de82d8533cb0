"""The exceptions users meet: Graph errors (with a remedy), bad input, and unknown send outcomes.

`GraphAPIError` is the one exception for anything the Graph API answers with an error
envelope. Its `.remedy` comes from `helpers.remedies`, the catalogue of onboarding codes.
Nothing here ever holds a token: messages are built from Meta's error fields only, and
any URL that reaches a message goes through `redact_url` first.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from .i18n import N_, _
from .remedies import Remedy, lookup as lookup_remedy, remedy_text

_SECRET_QUERY = re.compile(r"((?:access_token|input_token|client_secret|code|pin|password)=)[^&#\s]+", re.I)


def redact_url(url: str) -> str:
    """Blank out query values that can carry secrets (access_token, input_token, client_secret, ...)."""
    return _SECRET_QUERY.sub(r"\1***", url)


class PlaybookError(Exception):
    """Base of every error this package raises on purpose.

    `reason` is the plain sentence (what went wrong); `remedy_for(where)` what to do about it, from
    helpers.remedies, for "shell" (a terminal, a batch) or "lab" (JupyterLab, with the form).
    """

    @property
    def reason(self) -> str:
        return str(self)

    @property
    def kind(self) -> str:
        return type(self).__name__

    def remedy_for(self, where: str = "shell") -> str:
        return remedy_text(self.kind, where=where)


class ConfigError(PlaybookError, ValueError):
    """Bad input found before any network call: says what to fix.

    `env_names`, when set, are secret variables found unset: the remedy says how to set them.
    """

    env_names: list[str] = []
    only_env = True  # False: other values named in the message need fixing too

    def remedy_for(self, where: str = "shell") -> str:
        if not self.env_names:
            return super().remedy_for(where)
        joined = ("=... ".join if where == "shell" else ", ".join)(self.env_names)
        secrets = remedy_text("MissingSecretError", where=where, env=joined)
        return secrets if self.only_env else f"{super().remedy_for(where)} {secrets}"


class MissingSecretError(ConfigError):
    """An environment variable named for a secret is not set. Names the variable, never a value."""

    def __init__(self, env_name: str, what: str = N_("secret")) -> None:
        self.env_name = env_name
        # `what` is a word marked N_() where it is written (validate.secret_from_env's callers): translated here.
        self._reason = _("Environment variable {env} is not set; it should hold the {what}.").format(
            env=env_name, what=_(what))
        # str() is what command-line tools print: the shell's remedy (the lab's comes from remedy_for("lab")).
        super().__init__(f"{self._reason} {self.remedy_for('shell')}")

    @property
    def reason(self) -> str:
        return self._reason

    def remedy_for(self, where: str = "shell") -> str:
        return remedy_text("MissingSecretError", where=where, env=self.env_name)


class GraphAPIError(PlaybookError):
    """An error answered by the Graph API (or the sandbox), with Meta's fields and a remedy."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        type: str | None = None,
        details: Any = None,
        fbtrace_id: str | None = None,
        http_status: int | None = None,
        is_transient: bool | None = None,
        error_user_title: str | None = None,
        error_user_msg: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.message = message
        self.code = code
        self.subcode = subcode
        self.type = type
        self.details = details
        self.fbtrace_id = fbtrace_id
        self.http_status = http_status
        self.is_transient = is_transient
        self.error_user_title = error_user_title
        self.error_user_msg = error_user_msg
        self.method = method
        self.path = path
        entry: Remedy | None = lookup_remedy(code, subcode)
        self.title = entry.title if entry else None
        self.retryable = entry.retryable if entry else bool(is_transient)
        remedy = entry.remedy if entry else _(
            "This code is not in the playbook's catalogue; read Meta's message and details above, "
            "and look the code up at developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes."
        )
        if entry is not None and subcode is not None and entry.subcode != subcode:
            # Said, so nobody takes the code's general advice for advice about this subcode.
            remedy += " " + _("(Subcode {subcode} has no entry of its own in the playbook's catalogue: this is the "
                              "advice for code {code} in general; Meta's message and details above say what the "
                              "subcode adds.)").format(subcode=subcode, code=code)
        self.remedy = remedy
        super().__init__(self._text())

    @property
    def reason(self) -> str:
        return graph_reason(self.to_record())

    def remedy_for(self, where: str = "shell") -> str:
        return self.remedy

    @classmethod
    def from_response(
        cls,
        payload: Mapping[str, Any] | None,
        *,
        http_status: int | None = None,
        fbtrace_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> "GraphAPIError":
        """Build from a Graph error envelope `{"error": {...}}` (or the inner object)."""
        err = dict((payload or {}).get("error", payload) or {})
        error_data = err.get("error_data")
        if isinstance(error_data, Mapping):
            details = error_data.get("details", error_data or None)
        else:
            details = error_data  # some Graph errors send a string here
        return cls(
            str(err.get("message") or _("Graph API error without a message")),
            code=_int_or_none(err.get("code")),
            subcode=_int_or_none(err.get("error_subcode")),
            type=err.get("type"),
            details=details,
            fbtrace_id=err.get("fbtrace_id") or fbtrace_id,
            http_status=http_status,
            is_transient=err.get("is_transient"),
            error_user_title=err.get("error_user_title"),
            error_user_msg=err.get("error_user_msg"),
            method=method,
            path=path,
        )

    def _text(self) -> str:
        where = f"{self.method} {self.path}: " if self.method and self.path else ""
        code = f"{self.code}" + (f"/{self.subcode}" if self.subcode else "")
        # Meta's message, code and fbtrace_id as Meta gave them; only the playbook's words around them translated.
        parts = [where + _("{message} (code {code}, HTTP {http_status}, fbtrace_id {fbtrace_id})").format(
            message=self.message, code=code, http_status=self.http_status, fbtrace_id=self.fbtrace_id)]
        if self.details:
            parts.append(_("Details: {details}").format(details=self.details))
        parts.append(_("What to do: {remedy}").format(remedy=self.remedy))
        return "\n".join(parts)

    def to_record(self) -> dict[str, Any]:
        """A JSON-safe summary for run records and tables."""
        return {
            "code": self.code,
            "subcode": self.subcode,
            "type": self.type,
            "message": self.message,
            "details": self.details,
            "fbtrace_id": self.fbtrace_id,
            "http_status": self.http_status,
            "retryable": self.retryable,
            "title": self.title,
            "remedy": self.remedy,
        }

    def __repr__(self) -> str:
        return f"GraphAPIError(code={self.code!r}, subcode={self.subcode!r}, http_status={self.http_status!r}, fbtrace_id={self.fbtrace_id!r})"


class StepFailed(PlaybookError, AssertionError):
    """A step's final check did not pass (its verdict says why); an AssertionError for older callers."""

    kind = "StepCheckFailed"


class MessageMayHaveBeenSentError(PlaybookError):
    """A send timed out or lost its connection after the request left: it may have been delivered.

    The client never re-sends in this case, because a retry could message the customer twice.
    """

    def __init__(self, path: str, cause: BaseException) -> None:
        self.path = path
        super().__init__(
            _("POST {path}: no response ({error}); the message may have been sent. It was not re-sent, to avoid a "
              "duplicate. Check the status webhooks (or the consumer's phone) before sending again.").format(
                path=path, error=type(cause).__name__)
        )


class NetworkError(PlaybookError):
    """The Graph API could not be reached (after the retries allowed for the call)."""


class WebhookStatusFailed(PlaybookError):
    """A message the API accepted (HTTP 200, a wamid) that a status webhook then reported as failed."""

    def __init__(self, message_id: str, code: int | None, details: Any = None) -> None:
        entry = lookup_remedy(code)
        self.message_id = message_id
        self.code = code
        self.subcode = None
        self.http_status = 200
        self.title = entry.title if entry else None
        self.details = details
        self.remedy = entry.remedy if entry else _("Read the status webhook's errors[0] (code, title, details).")
        self.message = _("message {message_id} failed (status webhook): code {code} {title}").format(
            message_id=message_id, code=code, title=self.title or "").strip()
        super().__init__(self.message)

    def remedy_for(self, where: str = "shell") -> str:
        return self.remedy


class WebhookWaitTimeout(PlaybookError, TimeoutError):
    """The webhook store did not get the message or status a step waited for in time (says what it saw)."""


def graph_reason(error: Mapping[str, Any]) -> str:
    """A recorded Graph error as one sentence: the catalogue's title, Meta's message, the code."""
    message = re.sub(r"^\(#\d+\)\s*", "", str(error.get("message") or "")).strip()
    title = str(error.get("title") or "")
    if title and title.lower() not in message.lower():
        message = f"{title}: {message}" if message else title
    code = error.get("code")
    if code is None:
        return message
    code = f"{code}" + (f"/{error['subcode']}" if error.get("subcode") else "")
    return _("{message} (code {code})").format(message=message, code=code)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
