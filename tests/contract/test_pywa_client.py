"""A real client, unchanged: pywa (pinned in requirements-dev.txt) against the sandbox.

pywa builds every URL on https://graph.facebook.com. An httpx transport sends those requests to the
sandbox on 127.0.0.1 instead, as a proxy would; that is configuration of the client, and nothing in
the sandbox knows pywa. Webhooks go to a tornado server on 127.0.0.1 whose handler hands the raw body
and X-Hub-Signature-256 to pywa's own entry points for custom servers (webhook_challenge_handler,
webhook_update_validator, webhook_update_handler), so pywa checks the signature and builds its types.

Where these tests fail, the sandbox differs from what live Meta answers; each assertion message
carries the exchange (request pywa sent, sandbox's answer) to show where.
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import os
import pathlib
import urllib.parse
import warnings

import httpx
import pytest
import requests
import tornado.web

import pywa
from pywa import WhatsApp, handlers, utils
from pywa.errors import PywaWarning, WhatsAppError
from pywa.types import Message, MessageStatus, MessageStatusType, MessageType
from pywa.types.message_status import PricingCategory, PricingModel, PricingType
from pywa.types.others import BusinessPhoneNumber
from pywa.types.sent_update import SentMessage, SentTemplate, SentTemplateStatus
from pywa.types.templates import TemplateLanguage

from helpers.serving import BackgroundServer
from sandbox_fixtures import *  # noqa: F401,F403  (sandbox, sb, graph)
from sandbox_fixtures import CONSUMER, EXAMPLE_APP, EXAMPLE_WABA, LIVE_PHONE, wait_for

GRAPH_HOST = "graph.facebook.com"
API_VERSION = "25.0"
CONSUMER_WA_ID = CONSUMER.lstrip("+")
PYWA_DIR = str(pathlib.Path(pywa.__file__).parent)


@dataclasses.dataclass
class Exchange:
    method: str
    path: str
    query: dict[str, list[str]]
    body: str
    status: int
    answer: str

    def __str__(self) -> str:
        return f"{self.method} {self.path} query={self.query} body={self.body!r} -> {self.status} {self.answer}"


class ToSandbox(httpx.BaseTransport):
    """Sends what pywa addresses to graph.facebook.com to the sandbox, path and query unchanged.

    Records every exchange, so a failing assertion can show what pywa sent and what came back.
    """

    def __init__(self, sandbox_url: str) -> None:
        self.target = httpx.URL(sandbox_url)
        self.inner = httpx.HTTPTransport()
        self.exchanges: list[Exchange] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # Anything but the Graph API (or a paging link the sandbox itself handed out) would leave the machine.
        assert request.url.host in (GRAPH_HOST, self.target.host), f"pywa called {request.url}"
        request.url = request.url.copy_with(scheme=self.target.scheme, host=self.target.host, port=self.target.port)
        request.headers["Host"] = self.target.netloc.decode()
        response = self.inner.handle_request(request)
        response.read()
        self.exchanges.append(Exchange(request.method, request.url.path, urllib.parse.parse_qs(request.url.query.decode()),
                                       request.content.decode(), response.status_code, response.text))
        return response

    def close(self) -> None:
        self.inner.close()

    def last(self) -> Exchange:
        assert self.exchanges, "pywa sent nothing"
        return self.exchanges[-1]


@dataclasses.dataclass
class Delivery:
    method: str
    body: bytes
    signature: str | None
    status: int
    answer: str


class PywaEndpoint:
    """A webhook endpoint on 127.0.0.1 that leaves the verification, the signature check and the parsing to pywa."""

    def __init__(self, wa: WhatsApp) -> None:
        self.deliveries: list[Delivery] = []
        endpoint = self

        class Handler(tornado.web.RequestHandler):
            def get(self) -> None:
                answer, status = wa.webhook_challenge_handler(vt=self.get_query_argument(utils.HUB_VT, None),
                                                              ch=self.get_query_argument(utils.HUB_CH, None))
                endpoint._answer(self, Delivery("GET", b"", None, status, answer or ""))

            def post(self) -> None:
                body, signature = bytes(self.request.body), self.request.headers.get(utils.HUB_SIG)
                rejected = wa.webhook_update_validator(update=body, hmac_header=signature)
                answer, status = rejected or wa.webhook_update_handler(update=body)
                endpoint._answer(self, Delivery("POST", body, signature, status, answer))

        self.server = BackgroundServer(tornado.web.Application([(r"/webhook", Handler)]), name="pywa-endpoint")

    def _answer(self, handler: tornado.web.RequestHandler, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        handler.set_status(delivery.status)
        handler.set_header("Content-Type", "text/plain")
        handler.finish(delivery.answer)

    @property
    def url(self) -> str:
        return f"{self.server.url}/webhook"

    def posts(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.method == "POST"]


class Problems(logging.Handler):
    """pywa's warnings and errors: its logger (e.g. 'Failed to construct update') and its Python warnings."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[str] = []
        self.caught: list[warnings.WarningMessage] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.name} {record.levelname}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            text += f" [{type(record.exc_info[1]).__name__}: {record.exc_info[1]}]"
        self.records.append(text)

    def all(self) -> list[str]:
        from_pywa = [w for w in self.caught if issubclass(w.category, PywaWarning) or w.filename.startswith(PYWA_DIR)]
        return self.records + [f"{w.category.__name__}: {w.message}" for w in from_pywa]


@pytest.fixture
def env(sb, monkeypatch) -> dict[str, str]:
    """The demo secrets as the environment a pywa user would configure; monkeypatch keeps them in this test."""
    demo = sb.demo_env()
    for name, value in demo.items():
        monkeypatch.setenv(name, value)
    return {name: os.environ[name] for name in demo}


@pytest.fixture
def transport(sb) -> ToSandbox:
    t = ToSandbox(sb.url)
    yield t
    t.close()


@pytest.fixture
def wa(env, transport) -> WhatsApp:
    session = httpx.Client(transport=transport, timeout=15)
    # server=None: pywa starts no web framework; the endpoint below calls its handlers itself.
    yield WhatsApp(
        phone_id=LIVE_PHONE,
        token=env["WHATSAPP_TOKEN"],
        waba_id=EXAMPLE_WABA,
        app_id=EXAMPLE_APP,
        app_secret=env["WHATSAPP_APP_SECRET"],
        verify_token=env["WHATSAPP_VERIFY_TOKEN"],
        session=session,
        api_version=API_VERSION,
        server=None,
    )
    session.close()


@pytest.fixture
def problems() -> Problems:
    logger = logging.getLogger("pywa")
    handler, level = Problems(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        handler.caught = caught
        yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def endpoint(wa) -> PywaEndpoint:
    e = PywaEndpoint(wa)
    e.server.start()
    yield e
    e.server.stop()


@pytest.fixture
def updates(wa) -> dict[str, list]:
    seen: dict[str, list] = {"messages": [], "statuses": []}
    wa.add_handlers(handlers.MessageHandler(lambda _, m: seen["messages"].append(m)),
                    handlers.MessageStatusHandler(lambda _, s: seen["statuses"].append(s)))
    return seen


def subscribe(graph, url: str) -> None:
    """App callback with the app token {app_id}|{app_secret}, then the WABA subscription (plain Graph calls)."""
    response = graph.set_app_callback(url)
    assert response.status_code == 200, response.text
    response = graph.post(f"{EXAMPLE_WABA}/subscribed_apps")
    assert response.status_code == 200, response.text


def call(transport: ToSandbox, fn, *args, **kwargs):
    """A pywa call; when the sandbox refuses it, fail with the exchange rather than pywa's traceback."""
    try:
        return fn(*args, **kwargs)
    except WhatsAppError:
        pass  # failed below, outside the handler, so pytest shows the exchange and no chained traceback
    pytest.fail(f"{fn.__name__} refused: {transport.last()}", pytrace=False)


def raw_statuses(posts: list[Delivery]) -> list[str]:
    """The status values in the notification bodies, read without pywa (to know what to wait for)."""
    return [status["status"] for p in posts for entry in json.loads(p.body)["entry"] for change in entry["changes"]
            for status in change["value"].get("statuses", [])]


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# ---- Graph calls ------------------------------------------------------------------------------

def test_lists_the_wabas_phone_numbers(wa, transport):
    # pywa asks for every field of its BusinessPhoneNumber (types/others.py); Meta's node has them all.
    numbers = call(transport, wa.get_business_phone_numbers)
    sent = transport.last()
    assert sent.method == "GET" and sent.path == f"/v{API_VERSION}/{EXAMPLE_WABA}/phone_numbers"
    assert sent.query["fields"] == [",".join(BusinessPhoneNumber._api_fields())]
    assert all(isinstance(n, BusinessPhoneNumber) for n in numbers)
    by_id = {n.id: n for n in numbers}
    assert len(by_id) == 7 and not numbers.has_next, sent
    live = by_id[LIVE_PHONE]
    assert live.display_phone_number == "+1 555-010-0006" and live.verified_name == "Example Co Sales"
    assert (live.status, live.code_verification_status, live.platform_type) == ("CONNECTED", "VERIFIED", "CLOUD_API")
    assert live.throughput == {"level": "HIGH"} and live.account_mode == "LIVE"


def test_reads_one_phone_number(wa, transport):
    number = call(transport, wa.get_business_phone_number)
    sent = transport.last()
    assert sent.method == "GET" and sent.path == f"/v{API_VERSION}/{LIVE_PHONE}"
    assert sent.query["fields"] == [",".join(BusinessPhoneNumber._api_fields())]
    assert isinstance(number, BusinessPhoneNumber) and number.id == LIVE_PHONE
    assert (number.status, number.quality_rating, number.name_status) == ("CONNECTED", "GREEN", "APPROVED")
    assert number.is_pin_enabled is True and number.is_on_biz_app is False
    assert (number.country_code, number.country_dial_code) == ("US", "1")
    assert number.health_status["can_send_message"] == "AVAILABLE"


def test_sends_a_text(wa, transport, sb):
    sb.control.consumer_message(LIVE_PHONE, CONSUMER, "hi")  # opens the 24-hour window
    sent = call(transport, wa.send_message, to=CONSUMER_WA_ID, text="Thanks for writing")
    request = transport.last()
    assert request.method == "POST" and request.path == f"/v{API_VERSION}/{LIVE_PHONE}/messages"
    assert json.loads(request.body) == {"messaging_product": "whatsapp", "recipient_type": "individual", "type": "text",
                                        "to": CONSUMER_WA_ID, "text": {"body": "Thanks for writing", "preview_url": False}}
    assert type(sent) is SentMessage
    assert sent.id.startswith("wamid.") and sent.from_phone_id == LIVE_PHONE
    assert (sent.to, sent.input) == (CONSUMER_WA_ID, CONSUMER_WA_ID)


def test_sends_the_hello_world_template(wa, transport):
    sent = call(transport, wa.send_template, to=CONSUMER_WA_ID, name="hello_world", language=TemplateLanguage.ENGLISH_US)
    request = transport.last()
    assert json.loads(request.body)["template"] == {"name": "hello_world", "language": {"code": "en_US"}}
    assert type(sent) is SentTemplate
    assert sent.id.startswith("wamid.") and sent.to == CONSUMER_WA_ID
    assert sent.status is SentTemplateStatus.ACCEPTED  # messages[0].message_status, as Meta answers template sends


def test_marks_an_incoming_message_as_read(wa, transport, sb):
    incoming = sb.control.consumer_message(LIVE_PHONE, CONSUMER, "hi")
    result = call(transport, wa.mark_message_as_read, incoming["id"])
    request = transport.last()
    assert json.loads(request.body) == {"messaging_product": "whatsapp", "status": "read", "message_id": incoming["id"]}
    assert result.success is True  # Meta: {"success": true}


# ---- webhooks ---------------------------------------------------------------------------------

def test_pywa_validates_and_parses_the_sandboxs_webhooks(wa, sb, graph, endpoint, updates, problems, transport):
    subscribe(graph, endpoint.url)
    (handshake,) = [d for d in endpoint.deliveries if d.method == "GET"]
    assert handshake.status == 200 and handshake.answer.isdigit()  # pywa answered hub.challenge

    incoming = sb.control.consumer_message(LIVE_PHONE, CONSUMER, "hi")
    wait_for(lambda: endpoint.posts(), what="the incoming message webhook")
    sent = call(transport, wa.send_message, to=CONSUMER_WA_ID, text="Thanks for writing")
    wait_for(lambda: "read" in raw_statuses(endpoint.posts()), what="the read status webhook")

    posts = endpoint.posts()
    assert [p.status for p in posts] == [200] * len(posts), "pywa refused a signature the sandbox made"
    assert problems.all() == [], "pywa could not handle the sandbox's webhooks:\n" + "\n".join(
        problems.all() + [p.body.decode() for p in posts])

    (message,) = updates["messages"]
    assert type(message) is Message and message.type is MessageType.TEXT and message.text == "hi"
    assert message.id == incoming["id"] and message.waba_id == EXAMPLE_WABA
    assert message.from_user.wa_id == CONSUMER_WA_ID and message.from_user.name == "Alex Rivera"
    assert message.metadata.phone_number_id == LIVE_PHONE

    statuses = updates["statuses"]
    assert len(statuses) == len(raw_statuses(posts)) and all(type(s) is MessageStatus for s in statuses)
    assert {s.id for s in statuses} == {sent.id}
    # Meta skips "delivered" when a message is delivered and read at once; sent and read always come.
    kinds = [s.status for s in statuses]
    assert MessageStatusType.SENT in kinds and MessageStatusType.READ in kinds
    assert set(kinds) <= {MessageStatusType.SENT, MessageStatusType.DELIVERED, MessageStatusType.READ}
    assert all(s.from_user.wa_id == CONSUMER_WA_ID and s.error is None for s in statuses)
    # Meta puts pricing on at least one of them; a service text inside the customer's window is charged since
    # 2026-10-01 (live_meta.yaml pricing-service-charged): type regular, category service.
    priced = [s.pricing for s in statuses if s.pricing is not None]
    assert priced and {(p.model, p.type, p.category) for p in priced} == {
        (PricingModel.PMP, PricingType.REGULAR, PricingCategory.SERVICE)}


def test_pywa_rejects_a_wrong_signature(wa, sb, graph, endpoint, updates, env):
    subscribe(graph, endpoint.url)
    sb.control.consumer_message(LIVE_PHONE, CONSUMER, "hi")
    (genuine,) = wait_for(lambda: endpoint.posts(), what="the incoming message webhook")
    assert genuine.status == 200 and genuine.signature == sign(genuine.body, env["WHATSAPP_APP_SECRET"])

    handled = len(updates["messages"])
    tampered = genuine.body.replace(b'"hi"', b'"HI"')
    forged = [(tampered, genuine.signature),                              # body changed after signing
              (genuine.body, sign(genuine.body, "not-the-app-secret")),   # signed with another secret
              (genuine.body, None)]                                       # no signature at all
    for body, signature in forged:
        headers = {"Content-Type": "application/json", **({utils.HUB_SIG: signature} if signature else {})}
        answer = requests.post(endpoint.url, data=body, headers=headers, timeout=10)
        assert answer.status_code in (401, 403), (signature, answer.status_code, answer.text)
    assert len(updates["messages"]) == handled  # no forged body reached a handler


def test_pywa_registers_the_app_callback(wa, sb, endpoint, env, transport):
    # pywa's own registration call: POST /{app_id}/subscriptions with the app token in the query string
    # (its session also carries the system user token as a Bearer header, as in pywa's callback_url flow).
    result = call(transport, wa.set_app_callback_url, app_id=int(EXAMPLE_APP),
                  app_access_token=f"{EXAMPLE_APP}|{env['WHATSAPP_APP_SECRET']}", callback_url=endpoint.url,
                  verify_token=env["WHATSAPP_VERIFY_TOKEN"], fields=("messages",))
    assert result.success is True
    assert [d.status for d in endpoint.deliveries if d.method == "GET"] == [200]


def test_pywa_gets_an_app_access_token(wa, env, transport):
    # The first step of pywa's callback_url registration: the client_credentials grant.
    token = call(transport, wa.get_app_access_token, app_id=int(EXAMPLE_APP), app_secret=env["WHATSAPP_APP_SECRET"])
    assert token.startswith(f"{EXAMPLE_APP}|")
