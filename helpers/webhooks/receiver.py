"""The webhook receiver: Meta's verification handshake and signed deliveries, stored before the 200.

Answers at `/webhook` and at `/`:
- GET: `hub.mode=subscribe` with the right `hub.verify_token` gets 200 and the raw `hub.challenge`
  as a text/plain body; anything else gets 403.
- POST: over the size cap 413; a missing X-Hub-Signature-256 401, a wrong one 403 (checked in
  constant time over the raw bytes, before any parsing; nothing is stored). A signed body is
  committed to the store and only then answered 200. Signed but malformed bodies are stored
  raw, flagged, and answered 200 too: any other answer makes Meta retry them for 7 days.

It runs on tornado's HTTP server (HTTP/1.1 parsing, keep-alive, chunked bodies) with a request
delegate instead of a `tornado.web.Application`: that layer alone costs about 80 µs a request,
a quarter of the budget at the 3,000 events/s the receiver is built for.

>>> with WebhookReceiver("webhooks.sqlite") as rx:
...     print(rx.callback_url)
"""
from __future__ import annotations

import asyncio
import hmac
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import parse_qs

from tornado import httputil
from tornado.log import access_log

from ..serving import BackgroundServer
from ..validate import env_name, secret_from_env
from .signature import HEADER, is_valid
from .store import StoreWriter, WebhookStore

log = logging.getLogger(__name__)

# Meta's notifications are at most 3 MB; a bigger body is not from Meta.
MAX_NOTIFICATION_BYTES = 3 * 1024 * 1024
# The HTTP server's own limit only has to exceed ours, so that our 413 (not tornado's 400) answers.
SERVER_BODY_LIMIT = 1 << 30
PATHS = ("/", "/webhook")


@dataclass
class _Endpoint:
    writer: StoreWriter
    verify_token: str = field(repr=False)
    app_secret: str = field(repr=False)
    max_body_bytes: int = MAX_NOTIFICATION_BYTES


class _Request(httputil.HTTPMessageDelegate):
    """One request: headers, then body chunks, then `finish`; answered exactly once."""

    def __init__(self, endpoint: _Endpoint, connection: httputil.HTTPConnection) -> None:
        self.endpoint = endpoint
        self.connection = connection
        self.method = self.path = self.query = ""
        self.headers = httputil.HTTPHeaders()
        self.chunks: list[bytes] = []
        self.size = 0
        self.answered = False

    def headers_received(self, start_line, headers) -> None:
        self.method, self.headers = start_line.method, headers
        self.path, _, self.query = start_line.path.partition("?")
        length = headers.get("Content-Length", "")
        if self.path not in PATHS:
            self.reply(404, "Not found: the receiver answers at /webhook (and /).\n")
        elif self.method not in ("GET", "POST"):
            self.reply(405, "Meta sends GET (verification) and POST (notifications) only.\n")
        elif self.method == "POST" and length.isdigit() and int(length) > self.endpoint.max_body_bytes:
            self.reply(413, f"Body larger than {self.endpoint.max_body_bytes} bytes.\n")  # refused unread

    def data_received(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.answered or self.size > self.endpoint.max_body_bytes:
            self.chunks.clear()  # keep reading a chunked upload past the cap, keep nothing
        else:
            self.chunks.append(chunk)

    def finish(self) -> None:
        if self.answered:
            return
        try:
            self.handshake() if self.method == "GET" else self.deliver()
        except Exception:
            log.exception("webhook request failed")
            if not self.answered:
                self.reply(500, "Internal error.\n")

    def on_connection_close(self) -> None:
        self.answered = True  # nobody left to answer; a stored body stays stored

    def handshake(self) -> None:
        query = parse_qs(self.query, keep_blank_values=True)
        mode, token, challenge = (query.get(name, [""])[-1] for name in ("hub.mode", "hub.verify_token", "hub.challenge"))
        if mode != "subscribe":
            return self.reply(403, "hub.mode must be 'subscribe'.\n")
        if not hmac.compare_digest(token.encode("utf-8"), self.endpoint.verify_token.encode("utf-8")):
            return self.reply(403, "Verify token does not match.\n")
        if not challenge:
            return self.reply(400, "hub.challenge is missing.\n")
        self.reply(200, challenge)  # the raw challenge, byte for byte: no quotes, no newline

    def deliver(self) -> None:
        if self.size > self.endpoint.max_body_bytes:
            return self.reply(413, f"Body larger than {self.endpoint.max_body_bytes} bytes.\n")
        body = b"".join(self.chunks)
        signature = self.headers.get(HEADER)
        if not signature:
            return self.reply(401, f"Missing {HEADER} header.\n")
        if not is_valid(body, signature, self.endpoint.app_secret):
            return self.reply(403, f"{HEADER} does not match the body.\n")
        self.endpoint.writer.add(body).add_done_callback(self.stored)

    def stored(self, outcome: asyncio.Future) -> None:
        if self.answered:
            return
        if outcome.exception() is not None:
            log.error("could not store a webhook delivery; answering 500 so Meta retries it",
                      exc_info=outcome.exception())
            return self.reply(500, "Not stored; please retry.\n")
        self.reply(200)

    def reply(self, status: int, text: str = "") -> None:
        self.answered = True
        body = text.encode("utf-8")
        headers = httputil.HTTPHeaders({"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body))})
        self.connection.write_headers(httputil.ResponseStartLine("", status, httputil.responses.get(status, "")),
                                      headers, body)
        self.connection.finish()
        # The path only: the handshake's query string carries the verify token.
        access_log.log(logging.WARNING if status >= 500 else logging.INFO, "%d %s %s", status, self.method, self.path)


class _Receiver(httputil.HTTPServerConnectionDelegate):
    def __init__(self, endpoint: _Endpoint) -> None:
        self.endpoint = endpoint

    def start_request(self, server_conn, request_conn: httputil.HTTPConnection) -> _Request:
        return _Request(self.endpoint, request_conn)


def make_app(writer: StoreWriter, verify_token: str, app_secret: str,
             max_body_bytes: int = MAX_NOTIFICATION_BYTES) -> httputil.HTTPServerConnectionDelegate:
    """The receiver, to serve with tornado's HTTPServer. Open `writer` on the serving loop (on_start)."""
    return _Receiver(_Endpoint(writer, verify_token, app_secret, max_body_bytes))


class WebhookReceiver:
    """A webhook receiver on a background thread, storing into the SQLite file `db_path`.

    The verify token and app secret are read from the named environment variables at `start()`,
    unless given (`verify_token=`, `app_secret=`): a caller holding them need not put them in os.environ.
    """

    def __init__(self, db_path: str | Path, verify_token_env: str = "WHATSAPP_VERIFY_TOKEN",
                 app_secret_env: str = "WHATSAPP_APP_SECRET", host: str = "127.0.0.1", port: int = 0,
                 *, max_body_bytes: int = MAX_NOTIFICATION_BYTES, verify_token: str | None = None,
                 app_secret: str | None = None, environ: Mapping[str, str] | None = None) -> None:
        self.db_path = str(db_path)
        self._given = (verify_token, app_secret)
        self.environ = environ  # where the two secrets are read when not given (default os.environ)
        self.verify_token_env = env_name(verify_token_env, "verify_token_env")
        self.app_secret_env = env_name(app_secret_env, "app_secret_env")
        self.host = host
        self.port = port
        self.max_body_bytes = max_body_bytes
        self._server: BackgroundServer | None = None

    def start(self) -> "WebhookReceiver":
        if self._server is not None:
            return self
        verify_token = self._given[0] or secret_from_env(self.verify_token_env, "webhook verify token", self.environ)
        app_secret = self._given[1] or secret_from_env(self.app_secret_env, "app secret", self.environ)
        writer = StoreWriter(self.db_path)
        server = BackgroundServer(make_app(writer, verify_token, app_secret, self.max_body_bytes), self.host,
                                  self.port, max_body_size=SERVER_BODY_LIMIT, on_start=writer.open,
                                  on_stop=writer.close, name="webhook-receiver")
        self._server = server.start()
        self.port = server.port
        return self

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the receiver is not running: call start() first")
        return self._server.url

    @property
    def callback_url(self) -> str:
        return self.url + "/webhook"

    @property
    def store(self) -> WebhookStore:
        return WebhookStore(self.db_path)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> "WebhookReceiver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.callback_url if self._server is not None else "not running"
        return f"WebhookReceiver({self.db_path!r}, {where})"
