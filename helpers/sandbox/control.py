"""SandboxControl: a plain requests client of the sandbox's /_sandbox/ control API.

It does what a person does outside the Graph API during onboarding (read the SMS, accept the
Terms in WhatsApp Manager, generate a token in Business Settings, message the business from a
phone) and drives the sandbox itself (clock, scenarios, reset, webhook log).
"""
from __future__ import annotations

from typing import Any

import requests


class SandboxControlError(RuntimeError):
    """The control API refused a request; the message says why."""


class SandboxControl:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def _call(self, method: str, path: str, payload: dict | None = None) -> Any:
        response = self._session.request(method, f"{self.url}/_sandbox/{path}", json=payload, timeout=self.timeout)
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 400:
            message = (body.get("error") or {}).get("message") if isinstance(body, dict) else None
            raise SandboxControlError(f"{method} /_sandbox/{path}: HTTP {response.status_code}: {message or response.text[:200]}")
        return body

    # ---- what people do outside the API -----------------------------------------------------

    def verification_code(self, phone_number_id: str) -> str:
        """The last code 'sent by SMS' (or voice) after request_code."""
        return self.last_sms(phone_number_id)["code"]

    def last_sms(self, phone_number_id: str) -> dict:
        """The whole message: code, text ('WhatsApp code 123-456'), method, language, sent_at, expires_at."""
        return self._call("GET", f"verification_codes/{phone_number_id}")

    def consumer_message(self, phone_number_id: str, from_number: str, text: str | None = None,
                         name: str | None = None, *, type: str = "text", content: dict | None = None) -> dict:
        """A consumer writes to a business number (opens the 24-hour window). Returns its wamid as 'id'.

        `type`: text (the default), image (text is the caption), location, reaction (content.message_id),
        button_reply / list_reply (text is the title, content.id the reply id), contacts.
        """
        payload: dict = {"phone_number_id": str(phone_number_id), "from": from_number, "type": type}
        if text is not None:
            payload["text"] = text
        if name:
            payload["name"] = name
        if content:
            payload["content"] = content
        return self._call("POST", "consumer_messages", payload)

    def signup_code(self, waba_id: str, app_id: str) -> str:
        """An Embedded Signup code for GET /oauth/access_token (single-use, expires in 30 s on the sandbox clock)."""
        return self._call("POST", "signup_codes", {"waba_id": str(waba_id), "app_id": str(app_id)})["code"]

    def generate_token(self, business_id: str, app_id: str, scopes: list[str] | None = None,
                       target_ids: list[str] | None = None, expires_in: float = 0) -> str:
        """Business Settings > System users > Generate token. No target_ids: every asset of the business."""
        payload: dict[str, Any] = {"business_id": str(business_id), "app_id": str(app_id), "expires_in": expires_in}
        if scopes is not None:
            payload["scopes"] = scopes
        if target_ids is not None:
            payload["target_ids"] = [str(t) for t in target_ids]
        return self._call("POST", "tokens", payload)["access_token"]

    def accept_terms(self, business_id: str, accepted: bool = True) -> dict:
        """The Terms of Service banner in WhatsApp Manager."""
        return self._call("POST", f"terms/{business_id}", {"accepted": accepted})

    def allow_recipient(self, phone_number_id: str, phone_number: str) -> dict:
        """API Setup > 'To' > Manage phone number list, for a test number."""
        return self._call("POST", f"allowed_recipients/{phone_number_id}", {"phone_number": phone_number})

    # ---- the sandbox itself -----------------------------------------------------------------

    def now(self) -> float:
        """Epoch seconds on the sandbox clock."""
        return self._call("GET", "clock")["now"]

    def advance_clock(self, seconds: float) -> float:
        """Move the sandbox clock forward (expiries, windows, rate limits, webhook retries); returns now()."""
        return self._call("POST", "clock", {"advance": seconds})["now"]

    def freeze_clock(self, frozen: bool = True) -> float:
        """Stop (or restart) the sandbox clock; while frozen, throughput buckets do not refill."""
        return self._call("POST", "clock", {"freeze": frozen})["now"]

    def reset(self) -> None:
        """Back to the seed: state, clock and webhook log."""
        self._call("POST", "reset")

    def scenarios(self) -> list[dict]:
        return self._call("GET", "scenarios")["data"]

    def load_scenario(self, name: str) -> dict:
        """Reset, then apply the scenario. Returns name, title, description, try, expected_error, trainee_sees, fix."""
        return self._call("POST", f"scenarios/{name}")

    def stats(self) -> dict:
        """Graph API requests served since the start or the last reset: {graph_requests, recent: ["GET /v25.0/...", ...]}."""
        return self._call("GET", "stats")

    def deliveries(self) -> list[dict]:
        """Webhook attempts, oldest first: event_id, kind, url, attempt, status, error, at."""
        return self._call("GET", "deliveries")["data"]

    def add_fault(self, kind: str, method: str | None = None, path: str | None = None, times: int | None = 1,
                  error: dict | None = None) -> dict:
        """Fault the next `times` Graph calls that match (times 0 or None: every one until cleared).

        kind: unknown_error, service_error, service_unavailable, something_went_wrong, throttled,
        connection_reset, timeout_after_write, or "error" with `error` = {code, message, error_subcode?,
        type?, http_status?, details?, is_transient?} (a recorded failure replayed). `path` is a regex
        searched in the path without the version prefix, e.g. "^[0-9]+/message_templates$".
        Returns the fault plan (see faults()).
        """
        payload: dict[str, Any] = {"kind": kind, "times": times}
        if method is not None:
            payload["method"] = method
        if path is not None:
            payload["path"] = path
        if error is not None:
            payload["error"] = error
        return self._call("POST", "faults", payload)

    def set_fault_rate(self, rate: float, seed: int | None = None, *, webhook_rate: float | None = None) -> dict:
        """Fault this fraction of Graph answers from now on (0 stops), with the seed given or the current one.

        `webhook_rate` faults webhook deliveries (late, twice, out of order) at a rate of their own;
        by default they follow `rate`.
        """
        payload: dict[str, Any] = {"rate": rate}
        if seed is not None:
            payload["seed"] = seed
        if webhook_rate is not None:
            payload["webhook_rate"] = webhook_rate
        return self._call("POST", "faults", payload)

    def faults(self) -> dict:
        """{rate, seed, slow_s, rules: [{kind, method, path, times, error, hits}], injected: {kind: count}, kinds}."""
        return self._call("GET", "faults")

    def clear_faults(self, all: bool = False) -> dict:
        """Remove the fault rules; all=True also sets the rate to 0."""
        return self._call("DELETE", "faults" + ("?all=1" if all else ""))

    def writes(self) -> dict:
        """Writes the sandbox applied since the last reset, per key (a count above 1 is a doubled write):
        {template_create: {"WABA/NAME/LANG": n}, message_send: {"PHONE_ID>TO": n}, user_assign: {"WABA/USER": n},
        credit_share: {"WABA": n}, register: {"PHONE_ID": n}}."""
        return self._call("GET", "writes")

    def close(self) -> None:
        self._session.close()

    def __repr__(self) -> str:
        return f"SandboxControl({self.url!r})"
