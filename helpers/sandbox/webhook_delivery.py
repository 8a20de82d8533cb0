"""Meta's side of webhooks: the verification handshake against a callback, and signed notifications.

A notification's body is serialized once (ASCII with \\u escapes, as Meta sends it) and signed
over exactly those bytes. A delivery that is not answered with 200 is retried with exponential
backoff on the sandbox clock, as Meta does for up to 7 days, so receivers see duplicates.
Under faults (a fault rate above 0), some deliveries come a few seconds late, twice, or out of
order ("delivered" before "sent"), as Meta's do; drawn from the fault seed.
Everything runs on the server's event loop.
"""
from __future__ import annotations

import asyncio
import collections
import hashlib
import heapq
import hmac
import itertools
import json
import secrets
import urllib.parse
from dataclasses import dataclass
from typing import Callable
import tornado.httpclient
import tornado.ioloop

from ..webhooks.signature import HEADER as SIGNATURE_HEADER, sign
from . import graph_errors as err
from .clock import SandboxClock
from .faults import FaultPlan

RETRY_FIRST_DELAY = 30.0
RETRY_MAX_DELAY = 3600.0
RETRY_FOR = 7 * 24 * 3600.0
REQUEST_TIMEOUT = 10.0
LOG_SIZE = 2000
USER_AGENT = "facebookexternalua"
LATE_S = (1.0, 3.0)  # real seconds a late delivery waits: later than the answer, well inside a step's wait


@dataclass
class Notification:
    event_id: str
    url: str
    app_secret: str
    body: bytes
    kind: str
    first_at: float
    attempt: int = 0
    fault: str | None = None   # late or out_of_order, under faults (shown in the delivery log)


def notification_body(waba_id: str, field: str, value: dict, time: float | None = None) -> bytes:
    """The exact bytes Meta posts: compact JSON, non-ASCII escaped as \\uXXXX. Account-level fields carry entry.time."""
    entry: dict = {"id": waba_id}
    if time is not None:
        entry["time"] = int(time)
    entry["changes"] = [{"value": value, "field": field}]
    envelope = {"object": "whatsapp_business_account", "entry": [entry]}
    return json.dumps(envelope, ensure_ascii=True, separators=(",", ":")).encode("ascii")


class WebhookDelivery:
    def __init__(self, clock: SandboxClock, faults: FaultPlan | None = None) -> None:
        self.clock = clock
        self.faults = faults
        self.log: collections.deque[dict] = collections.deque(maxlen=LOG_SIZE)
        self._retries: list[tuple[float, int, Notification]] = []
        self._order = itertools.count()
        self._tasks: set[asyncio.Task] = set()
        self._client: tornado.httpclient.AsyncHTTPClient | None = None
        self._ticker: tornado.ioloop.PeriodicCallback | None = None
        self.on_tick: Callable[[], None] | None = None   # other work due on the sandbox clock (template reviews)

    # ---- lifecycle (on the server's loop) ---------------------------------------------------

    def start(self) -> None:
        self._client = tornado.httpclient.AsyncHTTPClient(force_instance=True, max_clients=50)
        self._ticker = tornado.ioloop.PeriodicCallback(self.run_due, 50)
        self._ticker.start()

    def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
        if self._client is not None:
            self._client.close()

    def clear(self) -> None:
        """Forget everything, including deliveries in flight (a reset must not leak into what follows)."""
        for task in self._tasks:
            task.cancel()
        self.log.clear()
        self._retries.clear()

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- verification handshake -------------------------------------------------------------

    async def verify_callback(self, url: str, verify_token: str | None) -> None:
        """GET url?hub.mode=subscribe&hub.challenge=N&hub.verify_token=T; raises (#2200) unless the body is N."""
        parsed = urllib.parse.urlsplit(url or "")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise err.invalid_parameter("The callback URL must be a full http(s) URL.")
        challenge = str(secrets.randbelow(9 * 10**9) + 10**9)
        query = urllib.parse.urlencode({"hub.mode": "subscribe", "hub.challenge": challenge,
                                        "hub.verify_token": verify_token or ""})
        target = f"{url}{'&' if parsed.query else '?'}{query}"
        record = {"event_id": None, "kind": "verification", "url": url, "attempt": 1, "at": self.clock.now()}
        try:
            response = await self._http().fetch(target, method="GET", raise_error=False, request_timeout=REQUEST_TIMEOUT,
                                                headers={"User-Agent": USER_AGENT}, follow_redirects=False)
        except Exception as exc:  # connection refused, DNS, timeout
            self.log.append({**record, "status": None, "error": str(exc)})
            raise err.callback_verification_failed(
                f"curl_errno = 7; curl_error = Failed to connect to {parsed.netloc}: {exc}; HTTP Status Code = 0; "
                "HTTP Message = ") from None
        self.log.append({**record, "status": response.code, "error": None})
        if response.code == 599:
            raise err.callback_verification_failed(
                f"curl_errno = 7; curl_error = Failed to connect to {parsed.netloc}: {response.error}; "
                "HTTP Status Code = 0; HTTP Message = ")
        if response.code != 200:
            raise err.callback_verification_failed(
                f"HTTP Status Code = {response.code}; HTTP Message = {response.reason}")
        received = (response.body or b"")[:200].decode("utf-8", "replace")
        if response.body != challenge.encode("ascii"):
            shown = received.replace("\\", "\\\\").replace('"', '\\"')
            raise err.callback_verification_failed(
                f'HTTP Status Code = 200; HTTP Message = OK; Response does not match challenge, '
                f'expected value="{challenge}", received="{shown}"')

    # ---- notifications ----------------------------------------------------------------------

    def notify(self, targets: list[tuple[str, str, str]], waba_id: str, field: str, value: dict,
               kind: str, entry_time: bool = False) -> list[Notification]:
        """One notification per target (URL, app secret, app id); not sent yet."""
        now = self.clock.now()
        body = notification_body(waba_id, field, value, now if entry_time else None)
        return [Notification(event_id=secrets.token_hex(8), url=url, app_secret=secret, body=body, kind=kind,
                             first_at=now) for url, secret, _ in targets]

    def send_soon(self, notifications: list[Notification]) -> None:
        """Send in order, each after the previous first attempt finished (sent before delivered before read)."""
        if notifications:
            self._spawn(self._send_in_order(notifications))

    def _faulted(self, stream: str) -> float | None:
        """Under faults, a draw below the rate (this delivery is faulted so), as a fraction of the rate; else None."""
        plan = self.faults
        rate = plan.delivery_rate if plan is not None else 0.0
        if rate <= 0:
            return None
        draw = plan.draw(stream)
        return draw / rate if draw < rate else None

    async def _send_in_order(self, notifications: list[Notification]) -> None:
        notifications = list(notifications)
        kinds = list(dict.fromkeys(n.kind for n in notifications))
        if len(kinds) >= 2 and self._faulted("webhook_out_of_order") is not None:
            # The second event first: "delivered" reaches the app before "sent", as Meta's sometimes do.
            order = {kind: i for i, kind in enumerate([kinds[1], kinds[0], *kinds[2:]])}
            notifications.sort(key=lambda n: order[n.kind])
            for n in notifications:
                if n.kind in (kinds[0], kinds[1]):
                    n.fault = "out_of_order"
        for notification in notifications:
            late = self._faulted("webhook_late")
            if late is not None:
                notification.fault = "late"
                await asyncio.sleep(LATE_S[0] + late * (LATE_S[1] - LATE_S[0]))
            await self._attempt(notification)
            if self._faulted("webhook_twice") is not None:
                await self._attempt(notification, duplicate=True)

    async def _attempt(self, n: Notification, duplicate: bool = False) -> None:
        n.attempt += 1
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(n.body, n.app_secret),
            "X-Hub-Signature": "sha1=" + hmac.new(n.app_secret.encode(), n.body, hashlib.sha1).hexdigest(),
            "User-Agent": USER_AGENT,
        }
        status: int | None = None
        error = None
        try:
            response = await self._http().fetch(n.url, method="POST", body=n.body, headers=headers, raise_error=False,
                                                request_timeout=REQUEST_TIMEOUT, follow_redirects=False)
            status = None if response.code == 599 else response.code
            error = str(response.error) if response.code == 599 else None
        except Exception as exc:
            error = str(exc)
        now = self.clock.now()
        record = {"event_id": n.event_id, "kind": n.kind, "url": n.url, "attempt": n.attempt, "status": status,
                  "error": error, "at": now}
        if duplicate or n.fault:
            record["fault"] = "twice" if duplicate else n.fault
        self.log.append(record)
        n.fault = None  # a retry is an ordinary attempt
        if duplicate:
            return  # a second copy of a delivery already made: its retries are the first copy's
        if status != 200 and now - n.first_at < RETRY_FOR:
            delay = min(RETRY_FIRST_DELAY * 2 ** (n.attempt - 1), RETRY_MAX_DELAY)
            heapq.heappush(self._retries, (now + delay, next(self._order), n))

    def run_due(self) -> None:
        """Start the retries that are due on the sandbox clock (called every 50 ms and after the clock moves)."""
        if self.on_tick is not None:
            self.on_tick()
        now = self.clock.now()
        while self._retries and self._retries[0][0] <= now:
            _, _, notification = heapq.heappop(self._retries)
            self._spawn(self._attempt(notification))

    def pending_retries(self) -> int:
        return len(self._retries)

    def _http(self) -> tornado.httpclient.AsyncHTTPClient:
        assert self._client is not None, "WebhookDelivery.start() was not called on the server's loop"
        return self._client

