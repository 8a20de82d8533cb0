"""GraphClient: the one way the playbook talks to the Graph API (or the sandbox).

- One pooled `requests.Session`; the token goes only in an `Authorization: Bearer` header.
  It is read from the environment variable named by `token_env` at each call, so a token
  typed into a notebook's password field is picked up without rebuilding the client.
- Secret parameters that Graph expects in a query string (debug_token's `input_token`, the
  code exchange's `client_secret`) are sent in a POST form body with `method=GET`, Graph's
  method override, so no secret ever appears in a URL.
- Keeps a bounded log of the calls it made (`calls`, see helpers.call_log): method, path, status,
  milliseconds, fbtrace_id and a curl equivalent with every secret as a `$VARIABLE` reference.
  Secrets read through `client.secret(env_name)` (and `token_env`) are known by their names.
- Retries only what is transient (see `_RETRY_CODES`), with exponential backoff and jitter,
  honouring Retry-After and X-Business-Use-Case-Usage, within a bounded total wait. A send
  whose outcome is unknown (timeout after the request left) is never re-sent. A call (or a block,
  `with client.retry_limit(0):`) may allow fewer retries: register never re-sends a throttled call.
- The timeout, when the caller gives none, comes from PLAYBOOK_GRAPH_TIMEOUT (seconds), else 30 s.
"""
from __future__ import annotations

import collections
import contextlib
import itertools
import json as jsonlib
import logging
import os
import random
import time
import urllib.parse
from typing import Any, Callable, Iterator, Mapping

import requests
from requests.adapters import HTTPAdapter

from . import call_log
from .about import PROJECT_NAME, __version__
from .errors import GraphAPIError, MessageMayHaveBeenSentError, NetworkError, redact_url
from .i18n import N_, _
from .remedies import lookup as lookup_remedy
from . import validate

log = logging.getLogger(__name__)

DEFAULT_GRAPH_URL = "https://graph.facebook.com"
DEFAULT_TIMEOUT = 30.0
TIMEOUT_ENV = "PLAYBOOK_GRAPH_TIMEOUT"  # seconds; the runner shortens it when the sandbox holds answers back
DEFAULT_MAX_RETRIES = 4
DEFAULT_MAX_TOTAL_WAIT = 120.0  # seconds the client may sleep across retries of one call
_BACKOFF_BASE = 1.0
_BACKOFF_CAP = 30.0
_PAIR_LIMIT_CODE = 131056
CALL_LOG_SIZE = 500  # entries kept; a step reads its own (by `seq`) long before this wraps


class _RedactQuery(logging.Filter):
    """urllib3 logs request lines with their query string at DEBUG; blank any secret values."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(redact_url(a) if isinstance(a, str) else a for a in record.args)
        record.msg = redact_url(str(record.msg))
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactQuery())


def _normalise_success(payload: Any) -> Any:
    """Graph answers {"success": true}, but some endpoints send the string "true"."""
    if isinstance(payload, dict) and isinstance(payload.get("success"), str):
        payload = dict(payload)
        payload["success"] = payload["success"].strip().lower() == "true"
    return payload


class GraphClient:
    """A Graph API client bound to one base URL, API version and token variable.

    >>> client = GraphClient(graph_url="http://127.0.0.1:8765", token_env="WHATSAPP_TOKEN")
    >>> client.get("200000000000001", fields="id,name")
    """

    def __init__(
        self,
        graph_url: str = DEFAULT_GRAPH_URL,
        api_version: str = "v25.0",
        token_env: str = "WHATSAPP_TOKEN",
        timeout: float | None = None,
        *,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_total_wait: float = DEFAULT_MAX_TOTAL_WAIT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.graph_url = validate.url(graph_url, "graph_url")
        self.api_version = validate.api_version(api_version)
        self.token_env = validate.env_name(token_env, "token_env")
        if timeout is None:
            timeout = default_timeout()
        elif timeout <= 0:
            raise validate.ConfigError(_("timeout must be a positive number of seconds."))
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self._retry_cap: int | None = None  # set by retry_limit() for the calls of a block
        self._writes_once = False  # set by write_once(): no write is re-sent after a lost answer
        self.max_total_wait = max_total_wait
        self._sleep = sleep
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = f"{PROJECT_NAME}/{__version__} requests/{requests.__version__}"
        self.session.trust_env = False  # a proxy env var must not silently reroute tokens
        self.last_usage: dict[str, Any] = {}
        self.retry_log: list[dict[str, Any]] = []  # what the last call retried and why (for display)
        # Names (never values) of the env vars whose values may appear in requests: curl refers to them.
        self.secret_envs: set[str] = {self.token_env}
        self.calls: collections.deque[dict[str, Any]] = collections.deque(maxlen=CALL_LOG_SIZE)
        self._seq = itertools.count(1)

    def __repr__(self) -> str:
        return f"GraphClient(graph_url={self.graph_url!r}, api_version={self.api_version!r}, token_env={self.token_env!r})"

    # ---- public surface -------------------------------------------------------------
    def secret(self, env_name: str, what: str = N_("secret")) -> str:
        """The value of a secret env var (ConfigError when unset), remembered by name so the call
        log shows it as `$ENV_NAME`."""
        value = validate.secret_from_env(env_name, what)
        self.secret_envs.add(env_name)
        return value

    def refer_secrets(self, *env_names: str | None) -> None:
        """Name env vars whose values may appear in requests (the call log shows `$NAME` instead)."""
        self.secret_envs.update(n for n in env_names if n)

    def calls_since(self, seq: int) -> list[dict[str, Any]]:
        """Logged calls with a sequence number above `seq` (oldest first)."""
        return [c for c in self.calls if c["seq"] > seq]

    @contextlib.contextmanager
    def retry_limit(self, max_retries: int) -> Iterator["GraphClient"]:
        """At most `max_retries` retries for every call inside the block (0: each call is sent once),
        whatever the remedy catalogue allows; for operations that do not take `max_retries` themselves."""
        before = self._retry_cap
        self._retry_cap = _retries(max_retries)
        try:
            yield self
        finally:
            self._retry_cap = before

    @contextlib.contextmanager
    def write_once(self) -> Iterator["GraphClient"]:
        """Inside the block a write (any method but GET) whose answer is lost raises NetworkError instead of
        being re-sent, even one its operation calls idempotent: the caller reads the state back instead.
        Answered transient errors (nothing applied) are still retried."""
        before = self._writes_once
        self._writes_once = True
        try:
            yield self
        finally:
            self._writes_once = before

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any = None, data: Mapping[str, Any] | None = None,
             params: Mapping[str, Any] | None = None, *, max_retries: int | None = None) -> Any:
        return self.request("POST", path, params=params, json=json, data=data, max_retries=max_retries)

    def delete(self, path: str, **params: Any) -> Any:
        return self.request("DELETE", path, params=params)

    def paginate(self, path: str, **params: Any) -> Iterator[Any]:
        """Yield every item of an edge across all pages.

        Follows `paging.next` and stops when it is absent. The next page is requested from
        this client's own base URL with the cursor and parameters taken from `next`, so the
        token is never sent to a host named in a response. Pass `after=` to start from a cursor.
        """
        page = self.get(path, **params)
        seen_cursors: set[str] = set()
        while True:
            yield from page.get("data", [])
            paging = page.get("paging") or {}
            next_url = paging.get("next")
            if not next_url:
                return
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(next_url).query))
            query.pop("access_token", None)
            cursor = query.get("after") or (paging.get("cursors") or {}).get("after")
            if not cursor or cursor in seen_cursors:
                return  # a server that repeats a cursor would otherwise loop forever
            seen_cursors.add(cursor)
            page = self.get(path, **{**params, **query, "after": cursor})

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        secret_params: Mapping[str, str] | None = None,
        token: str | None = None,
        authenticate: bool = True,
        idempotent: bool | None = None,
        max_retries: int | None = None,
    ) -> Any:
        """Issue one Graph call, retrying what is transient, and return the parsed JSON.

        `secret_params` are sent in a POST form body with Graph's `method` override (never
        in the URL). `token` replaces the env token for this call (an app token, for example).
        `authenticate=False` sends no token (the code exchange authenticates with the app secret).
        `idempotent` (default: GET and DELETE) allows retrying after an unknown outcome.
        `max_retries` lowers the retries for this call (0: sent once; a throttled answer is raised).
        """
        cap = _retries(max_retries) if max_retries is not None else self._retry_cap
        limit_retries = self.max_retries if cap is None else min(cap, self.max_retries)
        method = method.upper()
        url = self._url(path)
        headers = {}
        if authenticate:
            bearer = token if token is not None else validate.secret_from_env(self.token_env, N_("access token"))
            headers["Authorization"] = f"Bearer {bearer}"
        params = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        wire_method = method
        if secret_params:
            data = {**(data or {}), **params, **secret_params, "method": method}
            params, wire_method = {}, "POST"
        if idempotent is None:
            idempotent = method in ("GET", "DELETE")
        if self._writes_once and method != "GET":
            idempotent = False
        is_send = method == "POST" and path.rstrip("/").endswith("/messages")

        self.retry_log = []
        waited = 0.0
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                response = self.session.request(
                    wire_method, url, params=params or None, json=json, data=data,
                    headers=headers, timeout=self.timeout, allow_redirects=False,
                )
            except requests.exceptions.ConnectionError as exc:
                self._log_call(method, wire_method, url, path, params, json, data, headers, started,
                               error=type(exc).__name__)
                # Connect failures never reached the server; read errors/timeouts may have.
                sent = not isinstance(exc, requests.exceptions.ConnectTimeout) and _maybe_sent(exc)
                if sent and not idempotent:
                    if is_send:
                        raise MessageMayHaveBeenSentError(self._path(path), exc) from None
                    raise NetworkError(_("{method} {path}: the connection failed after the request was sent "
                                         "({error}); it was not repeated because it changes state. "
                                         "Check the state (e.g. with a GET) before running it again.").format(
                        method=method, path=self._path(path), error=type(exc).__name__)) from None
                delay = self._backoff(attempt)
                if attempt >= limit_retries or waited + delay > self.max_total_wait:
                    raise NetworkError(_("{method} {path}: could not reach {url} ({error}) after {attempts} "
                                         "attempt(s). Check the network, proxy and graph_url.").format(
                        method=method, path=self._path(path), url=self.graph_url, error=type(exc).__name__,
                        attempts=attempt + 1)) from None
                self._note_retry(attempt, delay, f"network: {type(exc).__name__}")
            except requests.exceptions.Timeout as exc:
                self._log_call(method, wire_method, url, path, params, json, data, headers, started,
                               error=type(exc).__name__)
                if not idempotent:
                    if is_send:
                        raise MessageMayHaveBeenSentError(self._path(path), exc) from None
                    raise NetworkError(_("{method} {path}: no response within {timeout} s; it was not repeated "
                                         "because it changes state. Check the state before running it again.").format(
                        method=method, path=self._path(path), timeout=self.timeout)) from None
                delay = self._backoff(attempt)
                if attempt >= limit_retries or waited + delay > self.max_total_wait:
                    raise NetworkError(_("{method} {path}: no response within {timeout} s after {attempts} "
                                         "attempt(s).").format(
                        method=method, path=self._path(path), timeout=self.timeout, attempts=attempt + 1)) from None
                self._note_retry(attempt, delay, "timeout")
            else:
                self._remember_usage(response)
                payload = _json_or_none(response)
                self._log_call(method, wire_method, url, path, params, json, data, headers, started,
                               response=response, payload=payload)
                if response.status_code < 400 and payload is not None and not (isinstance(payload, dict) and "error" in payload):
                    return _normalise_success(payload)
                error = self._error_from(response, payload, method, path)
                delay = self._retry_delay(error, response, attempt, idempotent, cap)
                if delay is None or waited + delay > self.max_total_wait:
                    raise error
                self._note_retry(attempt, delay, f"code {error.code} (HTTP {error.http_status})")
            self._sleep(delay)
            waited += delay
            attempt += 1

    # ---- internals ------------------------------------------------------------------
    def _path(self, path: str) -> str:
        return f"/{self.api_version}/{path.strip('/')}"

    def _url(self, path: str) -> str:
        path = str(path).strip()
        if not path or "?" in path or "#" in path or "://" in path:
            raise validate.ConfigError(_("path must be a Graph path such as '{{WABA_ID}}/phone_numbers' without a "
                                         "query string or host; pass parameters as keywords (got {path}).").format(
                path=repr(redact_url(path))))
        return f"{self.graph_url}{self._path(path)}"

    def _error_from(self, response: requests.Response, payload: Any, method: str, path: str) -> GraphAPIError:
        trace = response.headers.get("x-fb-trace-id")
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            return GraphAPIError.from_response(payload, http_status=response.status_code, fbtrace_id=trace,
                                               method=method, path=self._path(path))
        text = response.text[:200].strip() if response.text else ""
        return GraphAPIError(
            f"HTTP {response.status_code} without a Graph error body" + (f": {text}" if text else ""),
            http_status=response.status_code, fbtrace_id=trace, method=method, path=self._path(path),
        )

    def _retry_delay(self, error: GraphAPIError, response: requests.Response, attempt: int, idempotent: bool,
                     cap: int | None = None) -> float | None:
        """Seconds to wait before retrying, or None when this error must not be retried (`cap`: the call's limit)."""
        if error.code is not None:
            entry = lookup_remedy(error.code, error.subcode)
            if entry is None or not entry.retryable:
                return None
            limit = entry.max_retries if entry.max_retries is not None else self.max_retries
        elif error.http_status and error.http_status >= 500 and idempotent:
            limit = self.max_retries
        else:
            return None
        if cap is not None:
            limit = min(limit, cap)
        if attempt >= limit:
            return None
        if error.code == _PAIR_LIMIT_CODE:
            delay = float(4 ** attempt)  # Meta's advice for the pair rate limit: 4^n seconds
        else:
            delay = self._backoff(attempt)
        return max(delay, _server_wait(response))

    def _backoff(self, attempt: int) -> float:
        # Exponential backoff with "equal jitter": never zero, never above the cap.
        ceiling = min(_BACKOFF_CAP, _BACKOFF_BASE * (2 ** attempt))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _log_call(self, method: str, wire_method: str, url: str, path: str, params: Mapping[str, Any],
                  json: Any, data: Mapping[str, Any] | None, headers: Mapping[str, str], started: float, *,
                  response: requests.Response | None = None, payload: Any = None, error: str | None = None) -> None:
        ms = (time.perf_counter() - started) * 1000
        bearer = headers.get("Authorization", "")
        error_body = payload.get("error") if isinstance(payload, dict) and isinstance(payload.get("error"), dict) else {}
        fbtrace_id = error_body.get("fbtrace_id") or (response.headers.get("x-fb-trace-id") if response is not None else None)
        code = error_body.get("code")
        if code is not None and error_body.get("error_subcode"):
            code = f"{code}/{error_body['error_subcode']}"
        try:
            item = call_log.entry(
                method=method, wire_method=wire_method, url=url, path=self._path(path), params=params,
                json_body=json, data=data, bearer=bearer[len("Bearer "):] if bearer.startswith("Bearer ") else None,
                token_env=self.token_env, secret_envs=self.secret_envs,
                status=response.status_code if response is not None else None, ms=ms, fbtrace_id=fbtrace_id,
                error_code=code, error=error)
        except Exception as exc:  # the log is for reading: it must never fail the call itself
            log.debug("could not log the call: %s", type(exc).__name__)
            return
        item["seq"] = next(self._seq)
        self.calls.append(item)

    def _note_retry(self, attempt: int, delay: float, reason: str) -> None:
        self.retry_log.append({"attempt": attempt + 1, "wait_s": round(delay, 3), "reason": reason})
        log.info("retrying after %s in %.1f s (attempt %d)", reason, delay, attempt + 2)

    def _remember_usage(self, response: requests.Response) -> None:
        headers = response.headers
        self.last_usage = {
            "fbtrace_id": headers.get("x-fb-trace-id"),
            "api_version": headers.get("facebook-api-version"),
            "business_use_case_usage": _json_header(headers.get("X-Business-Use-Case-Usage")),
            "app_usage": _json_header(headers.get("X-App-Usage")),
            "http_status": response.status_code,
        }
        log.debug("%s %s -> %s (fbtrace_id %s)", response.request.method,
                  urllib.parse.urlsplit(response.url).path, response.status_code, headers.get("x-fb-trace-id"))


def default_timeout() -> float:
    """The client's timeout when the caller gives none: PLAYBOOK_GRAPH_TIMEOUT (seconds, > 0), else 30 s."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):  # NaN fails `> 0` too
        raise validate.ConfigError(_("{env}={value}: give the Graph client's timeout as a positive number of "
                                     "seconds (e.g. 30), or unset {env} for the default {default} s.").format(
            env=TIMEOUT_ENV, value=repr(text), default=f"{DEFAULT_TIMEOUT:g}"))
    return value


def _retries(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise validate.ConfigError(_("max_retries must be a whole number of retries, 0 or more (got {value}).").format(
            value=repr(value)))
    return value


def _param(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict,)):
        return jsonlib.dumps(value)
    return value


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _json_header(value: str | None) -> Any:
    if not value:
        return None
    try:
        return jsonlib.loads(value)
    except ValueError:
        return value


def _maybe_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """False only when the connection itself could not be opened (nothing was sent)."""
    text = repr(exc.args[0] if exc.args else exc)
    return not any(marker in text for marker in ("NewConnectionError", "Connection refused", "NameResolutionError",
                                                 "Failed to establish a new connection"))


def _server_wait(response: requests.Response) -> float:
    """What the server asks us to wait: Retry-After (seconds) or BUC estimated_time_to_regain_access (minutes)."""
    wait = 0.0
    retry_after = response.headers.get("Retry-After")
    if retry_after:
        try:
            wait = max(wait, float(retry_after))
        except ValueError:
            pass
    usage = _json_header(response.headers.get("X-Business-Use-Case-Usage"))
    if isinstance(usage, dict):
        for entries in usage.values():
            for entry in entries if isinstance(entries, list) else []:
                minutes = entry.get("estimated_time_to_regain_access") if isinstance(entry, dict) else None
                if isinstance(minutes, (int, float)) and minutes > 0:
                    wait = max(wait, float(minutes) * 60)
    return wait
