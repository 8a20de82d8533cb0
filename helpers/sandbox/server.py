"""The sandbox's HTTP side: tornado handlers for the Graph API and the /_sandbox/ control API,
and `Sandbox`, which serves them in-process on a background thread.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
from pathlib import Path
from typing import Any

import tornado.web

from ..serving import BackgroundServer
from . import graph_errors as err
from .control import SandboxControl
from .faults import RULE_KINDS, FaultPlan, check_rate
from .graph_api import Call, GraphAPI, served_version
from .graph_errors import GraphError
from .latency import Latency
from .scenarios import catalogue, describe
from .service import SandboxService
from .params import list_param

log = logging.getLogger("helpers.sandbox")
_VERSION = re.compile(r"^v[0-9]+\.[0-9]+$")
ALL_METHODS = ("GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS")


def request_params(request) -> dict[str, Any]:
    """Parameters from the query string, form fields and a JSON object body alike (later ones win)."""
    params: dict[str, Any] = {name: values[-1].decode("utf-8", "replace")
                              for name, values in request.query_arguments.items()}
    body = request.body or b""
    content_type = request.headers.get("Content-Type", "")
    if content_type.startswith("application/json") or (body.lstrip()[:1] == b"{" and "form" not in content_type):
        if body.strip():
            try:
                data = json.loads(body)
            except ValueError as exc:
                raise err.invalid_parameter(f"The request body is not valid JSON ({exc}).") from None
            if not isinstance(data, dict):
                raise err.invalid_parameter("The JSON body must be an object.")
            params.update(data)
    else:
        params.update({name: values[-1].decode("utf-8", "replace")
                       for name, values in request.body_arguments.items()})
    return params


class GraphHandler(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ALL_METHODS

    def initialize(self, api: GraphAPI) -> None:
        self.api = api
        self.trace_id = err.new_trace_id()

    def prepare(self) -> None:
        # Counted before anything else, so a test can tell that a page made no Graph call at all.
        self.api.service.count_graph_request(self.request.method, self.request.path)

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")

    async def _serve(self) -> None:
        service = self.api.service
        call = None
        fault = None
        try:
            parts = [p for p in self.request.path.split("/") if p]
            version = parts.pop(0) if parts and _VERSION.match(parts[0]) else None
            self.set_header("facebook-api-version",
                            served_version(version, dt.date.fromtimestamp(service.clock.now())))
            token, in_query = self._token()
            call = Call(method=self.request.method, version=version, parts=parts, params={}, token=token,
                        token_in_query=in_query, base_url=f"{self.request.protocol}://{self.request.host}")
            call.params = request_params(self.request)
            override = str(call.params.pop("method", "")).upper()
            if self.request.method == "POST" and override in ("GET", "DELETE"):
                call.method = override  # Graph's method override: secrets travel in a POST body
            if not in_query and call.params.get("access_token"):  # a form/JSON access_token wins too
                call.token = str(call.params["access_token"])
            fault = service.faults.decide(call.method, self.request.path) if service.faults.active else None
            if fault is not None and fault.kind == "connection_reset":
                self._drop_connection()
                return
            if fault is not None and fault.error is not None:
                for name, value in fault.headers.items():
                    self.set_header(name, value)
                raise fault.error  # answered before the handler: nothing is applied
            result = await self.api.dispatch(call)
            if fault is not None:  # timeout_after_write: applied, then an answer the client has stopped waiting for
                if self.request.method != "GET":
                    service.changed()
                await asyncio.sleep(service.faults.slow_s)
            await self._at_metas_pace()
            self._finish_json(200, result, call)
        except GraphError as error:
            if error.www_authenticate:
                self.set_header("WWW-Authenticate", error.www_authenticate)
            if fault is not None and fault.kind == "timeout_after_write":
                await asyncio.sleep(service.faults.slow_s)  # a refused write is held too: the caller cannot tell
            await self._at_metas_pace()
            self._finish_json(error.http_status, error.envelope(self.trace_id), call)
        except Exception:  # never a stack trace to the client: Graph's generic error instead
            log.exception("sandbox error on %s %s", self.request.method, self.request.path)
            error = GraphError(1, "An unknown error has occurred.", http_status=500, is_transient=True)
            self._finish_json(500, error.envelope(self.trace_id), call)
        if self.request.method != "GET":
            service.changed()

    def _drop_connection(self) -> None:
        """A connection reset: the stream is closed with no answer, as when Meta's edge drops it."""
        # tornado's own finish afterwards writes nothing: the stream is closed.
        log.debug("fault: connection reset on %s %s", self.request.method, self.request.path)
        self.request.connection.stream.close()

    async def _at_metas_pace(self) -> None:
        delay = self.api.service.latency.draw()
        if delay:
            await asyncio.sleep(delay)  # the loop serves other requests meanwhile, as Meta's servers would

    def _token(self) -> tuple[str | None, bool]:
        # An access_token parameter wins over the Authorization header, as at Meta: clients that keep
        # a user token on their session pass the app token this way for app-level calls.
        values = self.request.query_arguments.get("access_token")
        if values:
            return values[-1].decode("utf-8", "replace"), True
        header = self.request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() in ("bearer", "oauth") and value.strip():
            return value.strip(), False
        return None, False

    def _finish_json(self, status: int, body: dict, call: Call | None) -> None:
        self.set_status(status)
        self.set_header("x-fb-trace-id", self.trace_id)
        self.set_header("x-fb-request-id", self.trace_id)
        if call is not None and call.usage is not None:
            self.set_header("X-Business-Use-Case-Usage", self.api.state.usage_header(*call.usage))
        else:
            self.set_header("X-App-Usage", '{"call_count":0,"total_cputime":0,"total_time":0}')
        self.finish(json.dumps(body, separators=(",", ":")))

    def write_error(self, status_code: int, **kwargs) -> None:
        # Errors tornado raises before a handler runs (e.g. a body over the size limit).
        error = GraphError(1 if status_code >= 500 else 100, "An unknown error has occurred." if status_code >= 500
                           else "(#100) Invalid request", http_status=status_code)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(error.envelope(self.trace_id), separators=(",", ":")))

    get = post = delete = put = patch = head = options = _serve


class ControlHandler(tornado.web.RequestHandler):
    """Base of the /_sandbox/ endpoints: JSON in (any of query, form, JSON body), JSON out."""

    SUPPORTED_METHODS = ALL_METHODS

    def initialize(self, service: SandboxService) -> None:
        self.service = service

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")

    def params(self) -> dict[str, Any]:
        return request_params(self.request)

    def reply(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(body, separators=(",", ":")))

    def _serve(self, *args: str) -> None:
        method = getattr(self, "do_" + self.request.method.lower(), None)
        try:
            if method is None:
                raise ControlError(405, f"{self.request.method} is not supported on {self.request.path}")
            method(*args)
        except ControlError as error:
            self.reply({"error": {"message": error.message, "type": "SandboxControlError"}}, error.status)
        except GraphError as error:
            self.reply({"error": {"message": error.details or error.message, "type": "SandboxControlError"}}, 400)
        except (ValueError, KeyError) as error:  # ScenarioError and SeedError are ValueErrors
            self.reply({"error": {"message": str(error).strip("'\""), "type": "SandboxControlError"}}, 400)
        except Exception:
            log.exception("sandbox control error on %s %s", self.request.method, self.request.path)
            self.reply({"error": {"message": "internal sandbox error (see the server log)",
                                  "type": "SandboxControlError"}}, 500)
        else:
            if self.request.method != "GET":
                self.service.changed()

    def write_error(self, status_code: int, **kwargs) -> None:
        self.finish(json.dumps({"error": {"message": self._reason, "type": "SandboxControlError"}}))

    get = post = delete = put = patch = head = options = _serve


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


CONTROL_PATHS = {
    "GET /_sandbox/": "this index",
    "GET /_sandbox/clock": "the sandbox clock: {now, frozen}",
    "POST /_sandbox/clock": "{advance: seconds} and/or {freeze: true|false}",
    "GET /_sandbox/verification_codes/{phone_number_id}": "the last code 'sent by SMS' (request_code)",
    "POST /_sandbox/consumer_messages": "{phone_number_id, from, text?, name?, type?, content?}: a consumer writes to "
                                        "a business number (type: text, image, location, reaction, button_reply, "
                                        "list_reply, contacts)",
    "POST /_sandbox/signup_codes": "{waba_id, app_id}: an Embedded Signup code (single-use, 30 s)",
    "POST /_sandbox/tokens": "{business_id, app_id, scopes?, target_ids?, expires_in?, type?}: 'Generate token'",
    "POST /_sandbox/terms/{business_id}": "{accepted?: true}: accept the Terms of Service (WhatsApp Manager banner)",
    "POST /_sandbox/allowed_recipients/{phone_number_id}": "{phone_number}: add a recipient to a test number's list",
    "GET /_sandbox/deliveries": "webhook delivery attempts (and verification GETs), oldest first",
    "GET /_sandbox/scenarios": "the training scenarios",
    "POST /_sandbox/scenarios/{name}": "reset to the seed, then break it as the scenario says",
    "POST /_sandbox/reset": "back to the seed (state, clock, webhook log, request count, writes ledger, fault rules; "
                            "the fault rate stays)",
    "GET /_sandbox/stats": "Graph API requests served since the start or the last reset: {graph_requests, recent}",
    "GET /_sandbox/faults": "injected faults: {rate, seed, slow_s, webhook_rate, rules, injected: {kind: count}, kinds}",
    "POST /_sandbox/faults": "{kind, method?, path? (regex on the path without /vNN.0/), times? (1; 0: every call), "
                             "error? (kind 'error': {code, error_subcode?, message, type?, http_status?, details?, "
                             "is_transient?})} and/or {rate?, seed?, webhook_rate? (deliveries; null: as rate)}: "
                             "fault chosen Graph calls and webhook deliveries",
    "DELETE /_sandbox/faults": "remove the fault rules (?all=1: also set the rate to 0)",
    "GET /_sandbox/writes": "writes applied since the last reset, per key: {template_create: {WABA/NAME/LANG: n}, "
                            "message_send: {PHONE_ID>TO: n}, user_assign: {WABA/USER: n}, credit_share: {WABA: n}, "
                            "register: {PHONE_ID: n}}",
    "GET /_sandbox/broken_webhook/quoted_challenge": "a callback that answers the challenge JSON-quoted",
    "GET /_sandbox/broken_webhook/forbidden": "a callback that answers 403",
}


class IndexHandler(ControlHandler):
    def do_get(self) -> None:
        self.reply({"control_api": CONTROL_PATHS, "graph_api": "any /vNN.0/... path"})


class ClockHandler(ControlHandler):
    def do_get(self) -> None:
        clock = self.service.clock
        self.reply({"now": clock.now(), "frozen": clock.frozen_at is not None})

    def do_post(self) -> None:
        params = self.params()
        clock = self.service.clock
        if "freeze" in params:
            clock.freeze() if _truthy(params["freeze"]) else clock.unfreeze()
        if "advance" in params:
            seconds = float(params["advance"])
            if seconds < 0:
                raise ControlError(400, "advance must be >= 0: the sandbox clock only moves forward")
            clock.advance(seconds)
            self.service.delivery.run_due()
        self.do_get()


class VerificationCodeHandler(ControlHandler):
    def do_get(self, phone_id: str) -> None:
        phone = self.service.state.phones.get(phone_id)
        if phone is None:
            raise ControlError(404, f"no phone number with id {phone_id}")
        if phone.last_sms is None:
            raise ControlError(404, f"no code was requested for {phone_id}: POST /{{version}}/{phone_id}/request_code first")
        self.reply(phone.last_sms)


class ConsumerMessageHandler(ControlHandler):
    def do_post(self) -> None:
        p = self.params()
        kind = str(p.get("type") or "text")
        for name in ("phone_number_id", "from") + (("text",) if kind == "text" else ()):
            if not p.get(name):
                raise ControlError(400, f"{name} is required")
        content = p.get("content") or {}
        if not isinstance(content, dict):
            raise ControlError(400, "content must be a JSON object")
        state = self.service.state
        value = state.consumer_message(str(p["phone_number_id"]), str(p["from"]),
                                       None if p.get("text") is None else str(p["text"]), p.get("name"),
                                       kind=kind, content=content)
        phone = state.phones[str(p["phone_number_id"])]
        callbacks = self.service.report_inbound(phone, value)
        message = value["messages"][0]
        self.reply({"id": message["id"], "from": message["from"], "timestamp": message["timestamp"],
                    "type": message["type"], "phone_number_id": phone.id, "webhook_callbacks": callbacks})


class SignupCodeHandler(ControlHandler):
    def do_post(self) -> None:
        p = self.params()
        self.reply(self.service.state.mint_signup_code(str(p.get("waba_id")), str(p.get("app_id"))))


class TokenHandler(ControlHandler):
    def do_post(self) -> None:
        p = self.params()
        scopes = p.get("scopes") or ["whatsapp_business_management", "whatsapp_business_messaging"]
        targets = p.get("target_ids")
        token = self.service.state.issue_token(
            business_id=str(p.get("business_id")), app_id=str(p.get("app_id")),
            scopes=list_param(scopes), target_ids=list_param(targets) if targets is not None else None,
            expires_in=float(p.get("expires_in") or 0), token_type=str(p.get("type") or "SYSTEM_USER"))
        self.reply({"access_token": token.value, "type": token.type, "app_id": token.app_id, "scopes": token.scopes,
                    "target_ids": token.target_ids, "expires_at": int(token.expires_at)})


class TermsHandler(ControlHandler):
    def do_post(self, business_id: str) -> None:
        business = self.service.state.businesses.get(business_id)
        if business is None:
            raise ControlError(404, f"no business with id {business_id}")
        business.terms_of_service_accepted = _truthy(self.params().get("accepted", True))
        self.reply({"business_id": business.id, "terms_of_service_accepted": business.terms_of_service_accepted})


class AllowedRecipientHandler(ControlHandler):
    def do_post(self, phone_id: str) -> None:
        phone = self.service.state.phones.get(phone_id)
        if phone is None:
            raise ControlError(404, f"no phone number with id {phone_id}")
        number = self.params().get("phone_number")
        if not number:
            raise ControlError(400, "phone_number is required")
        if str(number) not in phone.allowed_recipients:
            phone.allowed_recipients.append(str(number))
        self.reply({"phone_number_id": phone.id, "allowed_recipients": phone.allowed_recipients})


class DeliveriesHandler(ControlHandler):
    def do_get(self) -> None:
        self.reply({"data": list(self.service.delivery.log), "pending_retries": self.service.delivery.pending_retries()})


class ScenariosHandler(ControlHandler):
    def do_get(self, name: str | None = None) -> None:
        scenarios = catalogue()
        if name is None:
            self.reply({"data": [describe(s) for s in scenarios.values()]})
        elif name in scenarios:
            self.reply(describe(scenarios[name]))
        else:
            raise ControlError(404, f"no scenario named {name!r}")

    def do_post(self, name: str | None = None) -> None:
        if name is None:
            raise ControlError(405, "POST /_sandbox/scenarios/{name} loads one scenario")
        self.reply(self.service.load_scenario(name))


class StatsHandler(ControlHandler):
    def do_get(self) -> None:
        self.reply(self.service.graph_stats())


class FaultsHandler(ControlHandler):
    def do_get(self) -> None:
        self.reply(self.service.faults.snapshot())

    def do_post(self) -> None:
        p = self.params()
        plan = self.service.faults
        if "rate" in p:
            plan.rate = check_rate(p["rate"])
        if p.get("seed") is not None:
            plan.seed = int(p["seed"])
        if "webhook_rate" in p:
            plan.webhook_rate = None if p["webhook_rate"] is None else check_rate(p["webhook_rate"])
        if "kind" in p:
            error = p.get("error")
            if error is not None and not isinstance(error, dict):
                raise ControlError(400, "error must be a JSON object: {code, message, error_subcode?, ...}")
            plan.add_rule(str(p["kind"]), p.get("method"), p.get("path"), p.get("times", 1), error)
        elif not {"rate", "seed", "webhook_rate"} & set(p):
            raise ControlError(400, f"give kind (one of {', '.join(RULE_KINDS)}), and/or rate, seed, webhook_rate")
        self.reply(plan.snapshot())

    def do_delete(self) -> None:
        self.service.faults.clear(all=_truthy(self.get_query_argument("all", "0")))
        self.reply(self.service.faults.snapshot())


class WritesHandler(ControlHandler):
    def do_get(self) -> None:
        self.reply(self.service.state.writes)


class ResetHandler(ControlHandler):
    def do_post(self) -> None:
        self.service.reset()
        self.reply({"reset": True, "now": self.service.clock.now()})


class BrokenWebhookHandler(ControlHandler):
    """Deliberately wrong callbacks for the webhook scenarios; their POSTs are accepted and dropped."""

    def do_get(self, behaviour: str) -> None:
        challenge = self.get_query_argument("hub.challenge", "")
        if behaviour == "quoted_challenge":
            self.reply(challenge)  # json.dumps -> "\"123\"": the classic mistake
        else:
            self.reply({"error": "forbidden"}, 403)

    def do_post(self, behaviour: str) -> None:
        self.reply({"received": True})


class UnknownControlHandler(ControlHandler):
    def prepare(self) -> None:  # answers every method; finishing here skips the method handler
        self.reply({"error": {"message": f"unknown control path {self.request.path}; GET /_sandbox/ lists them",
                              "type": "SandboxControlError"}}, 404)


def make_app(service: SandboxService) -> tornado.web.Application:
    api = GraphAPI(service)
    control = {"service": service}
    digits = r"([0-9]+)"
    return tornado.web.Application([
        (r"/_sandbox/?", IndexHandler, control),
        (r"/_sandbox/clock", ClockHandler, control),
        (rf"/_sandbox/verification_codes/{digits}", VerificationCodeHandler, control),
        (r"/_sandbox/consumer_messages", ConsumerMessageHandler, control),
        (r"/_sandbox/signup_codes", SignupCodeHandler, control),
        (r"/_sandbox/tokens", TokenHandler, control),
        (rf"/_sandbox/terms/{digits}", TermsHandler, control),
        (rf"/_sandbox/allowed_recipients/{digits}", AllowedRecipientHandler, control),
        (r"/_sandbox/deliveries", DeliveriesHandler, control),
        (r"/_sandbox/scenarios", ScenariosHandler, control),
        (r"/_sandbox/scenarios/([a-z0-9_]+)", ScenariosHandler, control),
        (r"/_sandbox/reset", ResetHandler, control),
        (r"/_sandbox/faults", FaultsHandler, control),
        (r"/_sandbox/writes", WritesHandler, control),
        (r"/_sandbox/stats", StatsHandler, control),
        (r"/_sandbox/broken_webhook/(quoted_challenge|forbidden)", BrokenWebhookHandler, control),
        (r"/_sandbox/.*", UnknownControlHandler, control),
        (r"/.*", GraphHandler, {"api": api}),
    ], log_function=_log_request)


def _log_request(handler: tornado.web.RequestHandler) -> None:
    # The path only: query strings can carry access_token and input_token.
    log.debug("%s %s %s", handler.get_status(), handler.request.method, handler.request.path)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes", "on")


class Sandbox:
    """The Graph API emulator, in-process on a free port.

    >>> with Sandbox() as sb:                       # or sb = Sandbox().start(); ...; sb.stop()
    ...     env = sb.demo_env()                     # {"WHATSAPP_TOKEN": ..., "WHATSAPP_PIN": ..., ...}
    ...     sb.control.consumer_message("400000000000006", "+16505550100", "hi")
    """

    def __init__(self, seed: str | Path | None = None, state_path: str | Path | None = None,
                 host: str = "127.0.0.1", port: int = 0, latency_ms: str | float | None = None,
                 faults: float | None = None, faults_seed: int | None = None,
                 faults_slow_s: float | None = None) -> None:
        self.service = SandboxService(seed, state_path, Latency.parse(latency_ms),
                                      FaultPlan(faults, faults_seed, faults_slow_s))
        self._server = BackgroundServer(make_app(self.service), host, port, on_start=self.service.on_start,
                                        on_stop=self.service.on_stop, name="sandbox")
        self._control: SandboxControl | None = None

    def start(self) -> "Sandbox":
        self._server.start()
        return self

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def control(self) -> SandboxControl:
        if self._control is None:
            self._control = SandboxControl(self.url)
        return self._control

    def demo_env(self) -> dict[str, str]:
        return self.service.demo_env()

    def stop(self) -> None:
        self._server.stop()
        if self._control is not None:
            self._control.close()

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Sandbox(url={self.url!r})"
