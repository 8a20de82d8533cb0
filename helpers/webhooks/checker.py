"""Act as Meta against a partner's callback URL, before anyone presses "Verify and save".

Six checks, each one request, as Meta would send it:
1. the verification GET with the right token: 200 and the challenge, byte for byte, as the body;
2. the GET with a wrong token, and 3. with a hub.mode other than subscribe: anything but 200;
4. a real-shaped, correctly signed messages notification (non-ASCII text as \\u escapes, as Meta
   sends it): 200 within the latency budget below;
5. the same POST with a wrong X-Hub-Signature-256, and 6. with none: rejected (4xx).

Latency budget: 1 s. Meta's partner guidance (relayed by 360dialog) asks for a median of at most
250 ms and fewer than 1 % of deliveries over 1 s, so one test delivery over 1 s means the endpoint
does slow work before answering. Meta itself treats a delivery not answered 200 within a few
seconds as failed (360dialog states 5 s; Meta publishes no figure) and retries it for up to 7 days.
Over 250 ms passes with a warning.

TLS certificates are verified by default, as Meta does; a self-signed certificate is named as
the cause when it is one. The verify token and app secret never appear in the output.

Also here, before any request: `callback_warnings`, what Meta would refuse about the URL itself.
"""
from __future__ import annotations

import ipaddress
import logging
import secrets
import time
from typing import Callable
from urllib.parse import urlsplit

import pandas as pd
import requests

from ..i18n import N_, _
from ..validate import secret_from_env, url as valid_url
from . import payloads
from .signature import HEADER, sign

BUDGET_MS = 1000.0
MEDIAN_TARGET_MS = 250.0
COLUMNS = ["check", "passed", "detail", "fix", "latency_ms"]

# The rows' check, detail and fix are prose for people (the table a step shows): in the current language.
# The columns' names and `passed` stay as they are.
FIX_REJECT_GET = N_("Answer 200 with the challenge only when hub.mode is 'subscribe' and hub.verify_token equals "
                    "your token; otherwise answer 403.")
FIX_REJECT_POST = N_("Compute HMAC-SHA256 of the raw request body with the app secret, compare it in constant time "
                     "with the X-Hub-Signature-256 header (after 'sha256='), and answer 401/403 without processing "
                     "the body when it is missing or differs.")


class _Probe(logging.Filter):
    """One conversation with the endpoint: a session, the secrets to redact, and timings.

    Also a logging filter: urllib3 logs request URLs at DEBUG, and the handshake's carries the token.
    """

    def __init__(self, url: str, verify_token: str, app_secret: str, timeout: float, verify_tls: bool) -> None:
        super().__init__()
        self.url = url
        self._secrets = (verify_token, app_secret)
        self.timeout = timeout
        self.verify_tls = verify_tls
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "facebookexternalua"  # what Meta's webhooks send

    def redact(self, text: str) -> str:
        for value in self._secrets:
            text = text.replace(value, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(value in message for value in self._secrets):
            record.msg, record.args = self.redact(message), ()
        return True

    def excerpt(self, response: requests.Response, length: int = 120) -> str:
        # Redact before cutting, so no secret is left half-shown at the cut.
        text = self.redact(response.content[:4096].decode("utf-8", "replace"))
        return repr(text[:length]) + ("…" if len(text) > length else "")

    def send(self, method: str, **kwargs) -> tuple[requests.Response | None, float | None, str, str]:
        """(response or None, latency in ms, failure detail, fix) — never raises for network trouble."""
        started = time.perf_counter()
        try:
            # verify per request: a session-level False loses to REQUESTS_CA_BUNDLE in the environment.
            response = self.session.request(method, self.url, timeout=self.timeout, allow_redirects=False,
                                            verify=self.verify_tls, **kwargs)
        except requests.exceptions.SSLError as exc:
            return None, None, *self._tls_problem(str(exc))
        except requests.exceptions.ConnectTimeout:
            return None, None, _("no TCP connection within {seconds} s").format(seconds=f"{self.timeout:g}"), _(
                "Check that the host is reachable from the internet: firewall, security group, load balancer "
                "listener, or a server that is not running.")
        except requests.exceptions.Timeout:
            return None, None, _("no answer within {seconds} s").format(seconds=f"{self.timeout:g}"), _(
                "The endpoint accepted the connection but did not answer: answer 200 at once and process the "
                "event afterwards.")
        except requests.exceptions.ConnectionError as exc:
            return None, None, *self._connection_problem(str(exc))
        except requests.exceptions.RequestException as exc:
            return None, None, self.redact(_("request failed: {error}").format(error=type(exc).__name__)), _(
                "Check the callback URL.")
        return response, round((time.perf_counter() - started) * 1000, 1), "", ""

    @staticmethod
    def _tls_problem(message: str) -> tuple[str, str]:
        lowered = message.lower()
        lowered = lowered.replace("self signed", "self-signed")  # OpenSSL 1.x and 3.x spellings
        if "self-signed certificate in certificate chain" in lowered:
            return (_("TLS: the certificate chain ends in a self-signed (private) CA"),
                    _("Meta accepts only certificates from a public CA and refuses this one too: use e.g. Let's "
                      "Encrypt."))
        if "self-signed certificate" in lowered:
            return (_("TLS: the certificate is self-signed"),
                    _("Meta refuses self-signed certificates too: install a certificate from a public CA (e.g. Let's "
                      "Encrypt) for this host name."))
        if "unable to get local issuer certificate" in lowered:
            return (_("TLS: the certificate's issuer is unknown (missing intermediate, or a private CA)"),
                    _("Serve the full chain (leaf plus intermediates, e.g. fullchain.pem) from a public CA."))
        if "expired" in lowered:
            return _("TLS: the certificate has expired"), _("Renew the certificate.")
        if "hostname mismatch" in lowered or "doesn't match" in lowered or "not valid for" in lowered:
            return (_("TLS: the certificate is not valid for this host name"),
                    _("Use a certificate whose names include the callback URL's host."))
        return _("TLS handshake failed (certificate or protocol)"), _(
            "Serve a valid certificate from a public CA over TLS 1.2 or later; Meta verifies it as this check does.")

    def _connection_problem(self, message: str) -> tuple[str, str]:
        lowered = message.lower()
        if any(marker in lowered for marker in ("name or service not known", "nodename nor servname", "failed to resolve",
                                              "nameresolutionerror", "no address associated")):
            return _("the host name does not resolve (DNS)"), _(
                "Check the host name in the callback URL and its DNS records.")
        if "refused" in lowered:
            return _("connection refused: nothing listens at that host and port"), _(
                "Start the server, or fix the port in the callback URL (https defaults to 443).")
        if "reset" in lowered or "aborted" in lowered or "remotedisconnected" in lowered:
            return _("the connection was closed without an HTTP answer"), _(
                "Check the server's logs: it crashed or closed the connection on this request.")
        return self.redact(_("could not connect: {error}").format(error=message[:200])), _(
            "Check that the callback URL is reachable.")


def _status_detail(probe: _Probe, response: requests.Response) -> str:
    return _("HTTP {status}, body {body}").format(status=response.status_code, body=probe.excerpt(response))


def _handshake(probe: _Probe, verify_token: str) -> dict:
    check = _("handshake answers the challenge")
    challenge = str(secrets.randbelow(9 * 10 ** 9) + 10 ** 9)  # Meta's challenges are 10-digit numbers
    response, latency, problem, fix = probe.send(
        "GET", params={"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": verify_token})
    if response is None:
        return _row(check, False, problem, fix, latency)
    body = response.content
    expected = challenge.encode("ascii")
    if response.status_code == 200 and body == expected:
        return _row(check, True, _("HTTP 200 with the exact challenge as the body"), "", latency)
    if response.status_code != 200:
        return _row(check, False, _("expected 200 with the challenge, got {answer}").format(
                        answer=_status_detail(probe, response)),
                    _handshake_status_fix(response.status_code), latency)
    if body.strip() in (b'"' + expected + b'"', b"'" + expected + b"'"):
        return _row(check, False, _("the challenge was echoed JSON-quoted: {body}").format(body=probe.excerpt(response)),
                    _("Return the challenge as the raw text body (Content-Type text/plain), not JSON-encoded: "
                      "e.g. `return challenge`, not `jsonify(challenge)` / `res.json(challenge)` / `json.dumps`."),
                    latency)
    if body.strip() == expected:
        return _row(check, False, _("the challenge was padded with whitespace: {body}").format(
                        body=probe.excerpt(response)),
                    _("Write the challenge exactly, with no newline or spaces around it (e.g. print/echo adds one)."),
                    latency)
    if expected in body:
        return _row(check, False, _("the challenge is inside a larger body: {body}").format(body=probe.excerpt(response)),
                    _("Return only the challenge as the body, not an HTML page or a JSON object around it."), latency)
    return _row(check, False, _("HTTP 200 but the body is not the challenge: {body}").format(body=probe.excerpt(response)),
                _("Return the value of the hub.challenge query parameter as the body."), latency)


def _handshake_status_fix(status: int) -> str:
    if status in (401, 403):
        return _("The endpoint refused the right token: make it compare hub.verify_token with the same token you "
                 "enter in the dashboard (PHP turns the dots into underscores: read $_GET['hub_verify_token']).")
    if status == 404:
        return _("Nothing answers at this path: check the callback URL's path.")
    if status == 405:
        return _("The endpoint does not handle GET: the same URL must answer Meta's verification GET and its POSTs.")
    if 300 <= status < 400:
        return _("Answer at this URL itself instead of redirecting: register the final URL (scheme, host, path).")
    return _("Answer 200 with the challenge when hub.mode is 'subscribe' and the token matches.")


def _refused_get(probe: _Probe, check: str, params: dict) -> dict:
    response, latency, problem, fix = probe.send("GET", params=params)
    if response is None:
        return _row(check, False, problem, fix, latency)
    if response.status_code == 200:
        return _row(check, False, _("accepted: {answer}").format(answer=_status_detail(probe, response)),
                    _(FIX_REJECT_GET), latency)
    return _row(check, True, _("refused with HTTP {status}").format(status=response.status_code), "", latency)


def _signed_post(probe: _Probe, app_secret: str) -> dict:
    check = _("signed notification answered 200 in time")
    body = payloads.encode(payloads.text_message(message_id="wamid.playbook-endpoint-check-" + secrets.token_hex(8)))
    response, latency, problem, fix = probe.send("POST", data=body, headers=payloads.signed_headers(body, app_secret))
    if response is None:
        return _row(check, False, problem, fix, latency)
    if response.status_code in (401, 403):
        return _row(check, False, _("a correctly signed notification was rejected: {answer}").format(
                        answer=_status_detail(probe, response)),
                    _("Hash the raw request bytes, before any JSON parsing: Meta sends non-ASCII text as \\u escapes, "
                      "so a re-serialized body has different bytes. Use the App Secret from App settings > Basic."),
                    latency)
    if response.status_code != 200:
        return _row(check, False, _("expected 200, got {answer}").format(answer=_status_detail(probe, response)),
                    _("Answer 200 to every correctly signed POST, even a body you cannot use; any other answer makes "
                      "Meta retry it for up to 7 days."), latency)
    if latency > BUDGET_MS:
        return _row(check, False, _("HTTP 200 after {latency} ms, over the {budget} ms budget").format(
                        latency=f"{latency:.0f}", budget=f"{BUDGET_MS:.0f}"),
                    _("Store the event and answer 200 at once; do slow work (Graph calls, media downloads, your own "
                      "business logic) after answering, from a queue."), latency)
    if latency <= MEDIAN_TARGET_MS:
        detail = _("HTTP 200 in {latency} ms (budget {budget} ms)")
    else:
        detail = _("HTTP 200 in {latency} ms (budget {budget} ms); slower than the {median} ms median Meta asks for")
    return _row(check, True, detail.format(latency=f"{latency:.0f}", budget=f"{BUDGET_MS:.0f}",
                                           median=f"{MEDIAN_TARGET_MS:.0f}"), "", latency)


def _rejected_post(probe: _Probe, check: str, forge: Callable[[bytes], str] | None) -> dict:
    """POST a notification with the signature `forge` makes for it (none when `forge` is None)."""
    body = payloads.encode(payloads.text_message(message_id="wamid.playbook-forged-" + secrets.token_hex(8)))
    headers = {"Content-Type": "application/json"}
    if forge is not None:
        headers[HEADER] = forge(body)
    response, latency, problem, fix = probe.send("POST", data=body, headers=headers)
    if response is None:
        return _row(check, False, problem, fix, latency)
    if 400 <= response.status_code < 500:
        return _row(check, True, _("rejected with HTTP {status}").format(status=response.status_code), "", latency)
    if response.status_code >= 500:
        return _row(check, False, _("the endpoint failed on it: {answer}").format(answer=_status_detail(probe, response)),
                    _("Treat a missing or wrong signature as a client error: answer 401/403, do not crash."), latency)
    return _row(check, False, _("accepted: {answer}").format(answer=_status_detail(probe, response)),
                _(FIX_REJECT_POST), latency)


def _row(check: str, passed: bool, detail: str, fix: str, latency_ms: float | None) -> dict:
    return {"check": check, "passed": passed, "detail": detail, "fix": fix, "latency_ms": latency_ms}


def check_endpoint(callback_url: str, verify_token_env: str = "WHATSAPP_VERIFY_TOKEN",
                   app_secret_env: str = "WHATSAPP_APP_SECRET", timeout: float = 10.0,
                   verify_tls: bool = True) -> pd.DataFrame:
    """Run the six checks against `callback_url`; one row per check: check, passed, detail, fix, latency_ms.

    The verify token and app secret are read from the named environment variables.
    """
    url = valid_url(callback_url, "callback_url")
    verify_token = secret_from_env(verify_token_env, N_("webhook verify token"))
    app_secret = secret_from_env(app_secret_env, N_("app secret"))
    probe = _Probe(url, verify_token, app_secret, timeout, verify_tls)
    wrong_secret = secrets.token_hex(16)
    checks: list[Callable[[], dict]] = [
        lambda: _handshake(probe, verify_token),
        lambda: _refused_get(probe, _("wrong verify token refused"), {
            "hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "wrong-" + secrets.token_hex(8)}),
        lambda: _refused_get(probe, _("hub.mode other than subscribe refused"), {
            "hub.mode": "unsubscribe", "hub.challenge": "1158201444", "hub.verify_token": verify_token}),
        lambda: _signed_post(probe, app_secret),
        lambda: _rejected_post(probe, _("bad signature rejected"), lambda body: sign(body, wrong_secret)),
        lambda: _rejected_post(probe, _("missing signature rejected"), None),
    ]
    urllib3_log = logging.getLogger("urllib3.connectionpool")
    urllib3_log.addFilter(probe)
    try:
        with probe.session:
            rows = [run() for run in checks]
    finally:
        urllib3_log.removeFilter(probe)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["latency_ms"] = frame["latency_ms"].astype("float64")
    return frame


def format_report(frame: pd.DataFrame) -> str:
    """The checks as text: PASS/FAIL, latency and detail per check, the fix under each failure."""
    width = max(len(check) for check in frame["check"])
    lines = []
    for row in frame.itertuples(index=False):
        latency = "" if pd.isna(row.latency_ms) else f"{row.latency_ms:.0f} ms"
        verdict = _("PASS") if row.passed else _("FAIL")
        lines.append(f"{verdict}  {row.check:<{width}}  {latency:>8}  {row.detail}")
        if not row.passed:
            lines.append(f"{'':6}" + _("fix: {fix}").format(fix=row.fix))
    passed = int(frame["passed"].sum())
    lines.append(_("{passed} of {total} checks passed. Latency budget {budget} ms per delivery: Meta's partner "
                   "guidance is a median of at most {median} ms and under 1 % over 1 s.").format(
        passed=passed, total=len(frame), budget=f"{BUDGET_MS:.0f}", median=f"{MEDIAN_TARGET_MS:.0f}"))
    return "\n".join(lines)


META_CALLBACK_RULE = N_("Meta requires HTTPS with a valid certificate on a public host")  # shown with _()


def callback_warnings(callback_url: str, *, to_meta: bool = True) -> list[str]:
    """What Meta would refuse about a callback URL: http://, or a host it cannot reach (loopback, private
    ranges, .local). None when the Graph API is not Meta (`to_meta` False: an emulator on this machine)."""
    if not to_meta:
        return []
    parts = urlsplit(str(callback_url).strip())
    host = (parts.hostname or "").lower().rstrip(".")
    found = []
    if parts.scheme.lower() == "http":
        found.append(_("{callback_url} is http://: {rule}; Meta will not deliver to it.").format(
            callback_url=callback_url, rule=_(META_CALLBACK_RULE)))
    unreachable = host in ("localhost", "") or host.endswith((".localhost", ".local", ".internal"))
    if not unreachable:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        unreachable = address is not None and (address.is_loopback or address.is_private or address.is_link_local
                                               or address.is_unspecified or address.is_reserved)
    if unreachable:
        found.append(_("{host} cannot be reached from Meta (loopback, a private range or a local name): {rule}, "
                       "e.g. a reverse proxy or tunnel in front of the receiver.").format(
            host=host or callback_url, rule=_(META_CALLBACK_RULE)))
    return found
