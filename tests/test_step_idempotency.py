"""No write is ever doubled (issue 19): each write step against a real sandbox whose answer to the write is
lost (timeout after the write applied, a dropped connection) or transient (131000), counted through the
sandbox's writes ledger; the write journal (helpers.steps.journal) read on a second run and on a resume;
12 adopting a template another run made; 10 never sending blind; 08 counting its register calls."""
from __future__ import annotations

import json
import threading

import pytest

from helpers import GraphAPIError, operations as ops, steps
from helpers.processes import temporary_environ
from helpers.client import GraphClient
from helpers.runner.customer import _carry_journals
from helpers.sandbox import Sandbox
from helpers.sandbox.peer import peer_env
from helpers.steps import Step
from helpers.steps.journal import DONE, UNKNOWN, WriteJournal, guarded_write, journal_path
from helpers.steps.actions.partner import _exists_already, _find
from helpers.webhooks import WebhookReceiver
from notebook_fixtures import CUSTOMERS, find_secrets, secret_values

EXAMPLE, CORAL = str(CUSTOMERS / "example.yaml"), str(CUSTOMERS / "coral.yaml")
EXAMPLE_WABA, CORAL_WABA, DEMO_PHONE = "200000000000001", "200000000000004", "400000000000001"
PARTNER_USER = "500000000000001"
SLOW_S = 2.0        # the sandbox holds a timeout_after_write answer this long ...
CLIENT_TIMEOUT = "1"  # ... longer than the steps' clients wait (PLAYBOOK_GRAPH_TIMEOUT)
TEMPLATES, REGISTER, MESSAGES = r"^[0-9]+/message_templates$", r"^[0-9]+/register$", r"^[0-9]+/messages$"
LOST = ("timeout_after_write", "connection_reset")
EXISTS = {"code": 100, "error_subcode": 2388024, "message": "(#100) Invalid parameter", "type": "OAuthException",
          "details": "Content in this language already exists for the template order_shipped."}


@pytest.fixture(scope="module")
def sandbox():
    """This module's sandbox: held answers outlast the steps' client timeout (set in the environment)."""
    with Sandbox(faults_slow_s=SLOW_S) as sb, temporary_environ(
            {**sb.demo_env(), **peer_env(sb.url), "PLAYBOOK_GRAPH_TIMEOUT": CLIENT_TIMEOUT}):
        yield sb


def start(name, run_dir, **params):
    params.setdefault("interactive", False)
    return Step.start(name, {"run_dir": str(run_dir), **params}, show=False)


def writes(sb, kind):
    return sb.control.writes()[kind]


def posts(sb, path_end):
    return [r for r in sb.control.stats()["recent"] if r.startswith("POST ") and r.split("?")[0].endswith(path_end)]


def journal(run_dir, name):
    return json.loads((run_dir / "journal" / f"{name}.json").read_text(encoding="utf-8"))


# ---- 12 templates ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", LOST + ("something_went_wrong",))
def test_12_creates_the_template_once_whatever_happens_to_the_answer(sb, tmp_path, kind):
    sb.control.add_fault(kind, method="POST", path=TEMPLATES)
    step = start("12_templates", tmp_path, profile=EXAMPLE, graph_url=sb.url)
    result = steps.templates(step)
    assert result["ok"], result["verdict"]
    assert writes(sb, "template_create") == {f"{EXAMPLE_WABA}/order_shipped/en_US": 1}
    assert sb.control.faults()["injected"] == {kind: 1}
    entry = journal(tmp_path, "12_templates")["writes"][f"template_create:{EXAMPLE_WABA}/order_shipped/en_US"]
    assert entry["outcome"] == DONE and entry["ids"]["id"] == step.record["outputs"]["template_id"]
    # Run again (a resume with this journal): it finds the template, writes nothing.
    again = steps.templates(start("12_templates", tmp_path, profile=EXAMPLE, graph_url=sb.url))
    assert again["ok"] and writes(sb, "template_create") == {f"{EXAMPLE_WABA}/order_shipped/en_US": 1}


def test_12_adopts_a_template_another_run_created(sb, tmp_path):
    other = GraphClient(graph_url=sb.url, token_env="WHATSAPP_TOKEN", max_retries=0)
    made = ops.create_message_template(other, EXAMPLE_WABA, name="order_shipped", language="en_US", body="Order {{1}}.")
    step = start("12_templates", tmp_path, profile=EXAMPLE, graph_url=sb.url)
    result = steps.templates(step)
    assert result["ok"] and step.record["facts"]["created"] is False
    assert step.record["outputs"]["template_id"] == made["id"]
    assert writes(sb, "template_create") == {f"{EXAMPLE_WABA}/order_shipped/en_US": 1}  # the other run's only
    assert not posts(sb, "/message_templates")[1:], "the step itself posted no template"


def test_12_reads_back_and_adopts_after_a_forced_2388024(sb, tmp_path):
    """The answer of a create that lost the race: 'Content in this language already exists' (forced here,
    with the template made by another run first) is read back and adopted by the guarded write 12 uses."""
    other = GraphClient(graph_url=sb.url, token_env="WHATSAPP_TOKEN", max_retries=0)
    made = ops.create_message_template(other, EXAMPLE_WABA, name="order_shipped", language="en_US", body="Order {{1}}.")
    sb.control.add_fault("error", method="POST", path=TEMPLATES, error=EXISTS)
    step = start("12_templates", tmp_path, profile=EXAMPLE, graph_url=sb.url)
    outcome = guarded_write(
        step, f"template_create:{EXAMPLE_WABA}/order_shipped/en_US", "create", keep=("id", "status"),
        write=lambda: ops.create_message_template(step.client, EXAMPLE_WABA, name="order_shipped", language="en_US",
                                                  body="Your order {{1}} has shipped."),
        read_back=lambda: _find(ops.list_message_templates(step.client, EXAMPLE_WABA, name="order_shipped"),
                                "order_shipped", "en_US"),
        adopt_error=_exists_already)
    assert outcome.adopted and outcome.value["id"] == made["id"] and outcome.attempts == 1
    assert sb.control.faults()["injected"] == {"error": 1}
    assert writes(sb, "template_create") == {f"{EXAMPLE_WABA}/order_shipped/en_US": 1}
    assert journal(tmp_path, "12_templates")["writes"][f"template_create:{EXAMPLE_WABA}/order_shipped/en_US"][
        "adopted"] is True


def test_12_without_the_template_a_2388024_is_still_the_steps_failure(sb, tmp_path):
    sb.control.add_fault("error", method="POST", path=TEMPLATES, error=EXISTS)
    step = start("12_templates", tmp_path, profile=EXAMPLE, graph_url=sb.url)
    with pytest.raises(GraphAPIError) as info:
        steps.templates(step)
    assert (info.value.code, info.value.subcode) == (100, 2388024)
    assert writes(sb, "template_create") == {}  # nothing read back, nothing created blind


def test_12_two_runs_of_one_waba_at_once_make_one_template(sb, tmp_path):
    results, errors = {}, []

    def run(name):
        try:
            results[name] = steps.templates(start("12_templates", tmp_path / name, profile=EXAMPLE, graph_url=sb.url))
        except Exception as exc:  # the assertion below shows it
            errors.append(exc)
    threads = [threading.Thread(target=run, args=(n,)) for n in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and all(r["ok"] for r in results.values()), errors
    assert writes(sb, "template_create") == {f"{EXAMPLE_WABA}/order_shipped/en_US": 1}


# ---- 07a and 07b ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", LOST)
def test_07a_assigns_the_system_user_once(sb, tmp_path, kind):
    sb.control.add_fault(kind, method="POST", path=r"^[0-9]+/assigned_users$")
    step = start("07a_system_user", tmp_path, profile=CORAL, graph_url=sb.url)
    result = steps.system_user(step)
    assert result["ok"] and not result["already"], result["verdict"]
    assert writes(sb, "user_assign") == {f"{CORAL_WABA}/{PARTNER_USER}": 1}
    assert sb.control.faults()["injected"] == {kind: 1}
    again = steps.system_user(start("07a_system_user", tmp_path, profile=CORAL, graph_url=sb.url))
    assert again["already"] and writes(sb, "user_assign") == {f"{CORAL_WABA}/{PARTNER_USER}": 1}


@pytest.mark.parametrize("kind", LOST)
def test_07b_allocates_the_credit_line_once(sb, tmp_path, kind):
    sb.control.add_fault(kind, method="POST", path=r"whatsapp_credit_sharing_and_attach$")
    step = start("07b_credit_line", tmp_path, profile=CORAL, graph_url=sb.url)
    result = steps.credit_line(step)
    assert result["ok"] and not result["already"], result["verdict"]
    assert writes(sb, "credit_share") == {CORAL_WABA: 1}
    assert sb.control.faults()["injected"] == {kind: 1}
    again = steps.credit_line(start("07b_credit_line", tmp_path, profile=CORAL, graph_url=sb.url))
    assert again["already"] and writes(sb, "credit_share") == {CORAL_WABA: 1}


# ---- 08 register ------------------------------------------------------------------------------------------
def register_calls(run_dir):
    return journal(run_dir, "08_register")["counts"][f"register_calls:{DEMO_PHONE}"]


def test_08_after_a_lost_answer_reads_the_number_back_instead_of_registering_again(sb, tmp_path):
    sb.control.add_fault("timeout_after_write", method="POST", path=REGISTER)
    step = start("08_register", tmp_path, profile=EXAMPLE, graph_url=sb.url, phone_number_id=DEMO_PHONE)
    result = steps.register(step)
    assert result["ok"] and writes(sb, "register") == {DEMO_PHONE: 1}
    assert register_calls(tmp_path) == 1 and step.record["facts"]["register_calls"] == 1
    assert step.record["facts"]["writes"][f"register:{DEMO_PHONE}"]["how"] == "adopted after an unknown outcome"


def test_08_after_a_dropped_connection_registers_once_more_and_counts_both_calls(sb, tmp_path):
    sb.control.add_fault("connection_reset", method="POST", path=REGISTER)
    result = steps.register(start("08_register", tmp_path, profile=EXAMPLE, graph_url=sb.url,
                                  phone_number_id=DEMO_PHONE))
    assert result["ok"] and writes(sb, "register") == {DEMO_PHONE: 1}
    assert register_calls(tmp_path) == 2  # both calls spent the number's budget
    again = steps.register(start("08_register", tmp_path, profile=EXAMPLE, graph_url=sb.url,
                                 phone_number_id=DEMO_PHONE))
    assert again["already"] and register_calls(tmp_path) == 2 and writes(sb, "register") == {DEMO_PHONE: 1}


def test_08_never_retries_a_transient_register_by_itself(sb, tmp_path):
    sb.control.add_fault("something_went_wrong", method="POST", path=REGISTER)
    step = start("08_register", tmp_path, profile=EXAMPLE, graph_url=sb.url, phone_number_id=DEMO_PHONE)
    with pytest.raises(GraphAPIError) as info:
        steps.register(step)
    assert info.value.code == 131000 and len(posts(sb, "/register")) == 1 and writes(sb, "register") == {}
    assert register_calls(tmp_path) == 1
    assert journal(tmp_path, "08_register")["writes"][f"register:{DEMO_PHONE}"]["outcome"] == "failed"
    resumed = steps.register(start("08_register", tmp_path, profile=EXAMPLE, graph_url=sb.url,
                                   phone_number_id=DEMO_PHONE))
    assert resumed["ok"] and writes(sb, "register") == {DEMO_PHONE: 1} and register_calls(tmp_path) == 2


def test_08_makes_a_register_refused_as_rate_limited_once_more_and_counts_both(sb, tmp_path):
    sb.control.add_fault("throttled", method="POST", path=REGISTER)  # 80007: not a send, the WABA's limit
    step = start("08_register", tmp_path, profile=EXAMPLE, graph_url=sb.url, phone_number_id=DEMO_PHONE)
    assert steps.register(step)["ok"]
    assert len(posts(sb, "/register")) == 2 and writes(sb, "register") == {DEMO_PHONE: 1}
    assert register_calls(tmp_path) == 2  # both calls counted against the number's budget


def test_08_stops_at_the_numbers_register_budget_before_calling(sb, tmp_path):
    import time
    path = tmp_path / "journal" / "08_register.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"step": "08_register", "writes": {}, "counts": {f"register_calls:{DEMO_PHONE}": 10},
                                "call_times": {f"register_calls:{DEMO_PHONE}": [time.time() - 60] * 10}}))
    step = start("08_register", tmp_path, profile=EXAMPLE, graph_url=sb.url, phone_number_id=DEMO_PHONE)
    with pytest.raises(Exception, match="10 register calls in the last 72 hours"):
        steps.register(step)
    assert posts(sb, "/register") == [] and writes(sb, "register") == {}
    error = json.loads((tmp_path / "08_register.json").read_text())["error"]
    assert error["title"] == "Register budget spent" and "72 hours old" in error["remedy"]


# ---- 10 send a test message -------------------------------------------------------------------------------
def onboarded(sb, run_dir, receiver):
    common = dict(profile=EXAMPLE, graph_url=sb.url, callback_url=receiver.callback_url,
                  webhook_db=str(receiver.db_path), phone_number_id=DEMO_PHONE)
    assert steps.webhooks(start("04_webhooks", run_dir, **common))["ok"]
    assert steps.subscribe_waba(start("05_subscribe_waba", run_dir, **common))["ok"]
    assert steps.register(start("08_register", run_dir, **common))["ok"]
    return common


def test_10_after_a_lost_answer_adopts_the_message_the_store_shows(sb, tmp_path):
    with WebhookReceiver(tmp_path / "hooks.sqlite") as receiver:
        common = onboarded(sb, tmp_path, receiver)
        sb.control.add_fault("timeout_after_write", method="POST", path=MESSAGES)
        step = start("10_send_test_message", tmp_path, **common)
        sent = steps.send_test_message(step)
        assert sent["ok"] and step.record["facts"]["message_adopted"] is True
        assert list(writes(sb, "message_send").values()) == [1]
        entry = journal(tmp_path, "10_send_test_message")["writes"][f"message_send:{DEMO_PHONE}>+16505550100"]
        assert entry["outcome"] == DONE and entry["ids"]["wamid"] == sent["message_id"]


def test_10_sends_once_more_only_after_its_lost_send_stayed_silent(sb, tmp_path):
    with WebhookReceiver(tmp_path / "hooks.sqlite") as receiver:
        common = onboarded(sb, tmp_path, receiver)
        sb.control.add_fault("connection_reset", method="POST", path=MESSAGES)  # the first send's answer is lost
        sent = steps.send_test_message(start("10_send_test_message", tmp_path, **common, wait_seconds=2))
        # no status of it arrived within the grace: it was not accepted, so it was sent once more, and once only
        assert sent["ok"] and len(posts(sb, "/messages")) == 2 and list(writes(sb, "message_send").values()) == [1]
        entry = journal(tmp_path, "10_send_test_message")["writes"][f"message_send:{DEMO_PHONE}>+16505550100"]
        assert entry["outcome"] == DONE and entry["attempts"] == 2


def test_10_with_nothing_in_the_store_twice_fails_clearly_and_never_sends_a_third_time(sb, tmp_path):
    with WebhookReceiver(tmp_path / "hooks.sqlite") as receiver:
        common = onboarded(sb, tmp_path, receiver)
        sb.control.add_fault("connection_reset", method="POST", path=MESSAGES, times=2)
        step = start("10_send_test_message", tmp_path, **common, wait_seconds=2)
        with pytest.raises(Exception, match="may have been sent") as info:
            steps.send_test_message(step)
        assert "It was not sent again" in str(info.value)
        assert len(posts(sb, "/messages")) == 2 and writes(sb, "message_send") == {}
        error = json.loads((tmp_path / "10_send_test_message.json").read_text())["error"]
        assert error["title"] == "Send outcome unknown" and "consumer's phone" in error["remedy"]
        assert "journal/10_send_test_message.json" in error["remedy"]
        # Run again: still nothing in the store, no third send.
        with pytest.raises(Exception, match="may have been sent"):
            steps.send_test_message(start("10_send_test_message", tmp_path, **common, wait_seconds=1))
        assert len(posts(sb, "/messages")) == 2
        # The engineer checked the phone and removed the journal as the remedy says: now it sends.
        (tmp_path / "journal" / "10_send_test_message.json").unlink()
        assert steps.send_test_message(start("10_send_test_message", tmp_path, **common))["ok"]
        assert list(writes(sb, "message_send").values()) == [1]


def test_10_resumed_follows_the_message_already_sent_instead_of_sending_another(sb, tmp_path):
    first, resumed = tmp_path / "first" / "example", tmp_path / "resumed" / "example"
    with WebhookReceiver(tmp_path / "hooks.sqlite") as receiver:
        common = onboarded(sb, first, receiver)
        sent = steps.send_test_message(start("10_send_test_message", first, **common))
        assert sent["ok"] and list(writes(sb, "message_send").values()) == [1]
        resumed.mkdir(parents=True)
        (resumed / "journal").mkdir(parents=True, exist_ok=True)
        (resumed / "journal" / "08_register.json").write_text('{"step": "08_register", "writes": {}}')  # its own: kept
        copied = _carry_journals(tmp_path / "first", "example", resumed)
        assert "10_send_test_message.json" in copied and "08_register.json" not in copied
        assert json.loads((resumed / "journal" / "08_register.json").read_text())["writes"] == {}
        step = start("10_send_test_message", resumed, **common)
        again = steps.send_test_message(step)
        assert again["ok"] and again["message_id"] == sent["message_id"]
        assert step.record["facts"]["message_from_journal"] is True
        assert list(writes(sb, "message_send").values()) == [1] and len(posts(sb, "/messages")) == 1


# ---- 04, 05, 11: idempotent at Meta, read back after a lost answer ---------------------------------------------
def test_04_webhooks_reads_the_subscription_back_after_a_lost_answer(sb, tmp_path):
    with WebhookReceiver(tmp_path / "hooks.sqlite") as receiver:
        sb.control.add_fault("timeout_after_write", method="POST", path=r"^[0-9]+/subscriptions$")
        step = start("04_webhooks", tmp_path, profile=EXAMPLE, graph_url=sb.url, callback_url=receiver.callback_url,
                     webhook_db=str(receiver.db_path))
        result = steps.webhooks(step)
        assert result["ok"], result["verdict"]
        assert len(posts(sb, "/subscriptions")) == 1  # read back, not posted again
        assert sb.control.faults()["injected"] == {"timeout_after_write": 1}
        assert step.record["facts"]["writes"]["app_callback:300000000000001"]["adopted"] is True


@pytest.mark.parametrize("kind", LOST)
def test_05_subscribe_passes_after_a_lost_answer(sb, tmp_path, kind):
    sb.control.add_fault(kind, method="POST", path=r"^[0-9]+/subscribed_apps$")
    result = steps.subscribe_waba(start("05_subscribe_waba", tmp_path, profile=EXAMPLE, graph_url=sb.url))
    assert result["ok"] and not result["already"], result["verdict"]
    assert sb.control.faults()["injected"] == {kind: 1}
    # A dropped connection applied nothing: posted once more; a held answer did: read back, not posted again.
    assert len(posts(sb, "/subscribed_apps")) == (2 if kind == "connection_reset" else 1)


def test_11_business_profile_reads_back_after_a_lost_answer(sb, tmp_path):
    sb.control.add_fault("timeout_after_write", method="POST", path=r"whatsapp_business_profile$")
    step = start("11_business_profile", tmp_path, profile=CORAL, graph_url=sb.url)
    result = steps.business_profile(step)
    assert result["ok"], result["verdict"]
    assert len(posts(sb, "/whatsapp_business_profile")) == 1
    assert sb.control.faults()["injected"] == {"timeout_after_write": 1}


# ---- the journal itself ---------------------------------------------------------------------------------------
def test_an_intent_without_outcome_from_a_killed_run_is_read_back_and_adopted(sb, tmp_path):
    other = GraphClient(graph_url=sb.url, token_env="WHATSAPP_TOKEN", max_retries=0)
    ops.create_message_template(other, EXAMPLE_WABA, name="order_shipped", language="en_US", body="Order {{1}}.")
    step = start("12_templates", tmp_path, profile=EXAMPLE, graph_url=sb.url)
    key = f"template_create:{EXAMPLE_WABA}/order_shipped/en_US"
    WriteJournal(journal_path(step), step.name).intent(key, "create")  # the killed run got this far
    assert journal(tmp_path, "12_templates")["writes"][key]["outcome"] is None
    calls = []
    outcome = guarded_write(step, key, "create", write=lambda: calls.append("create"),
                            read_back=lambda: _find(ops.list_message_templates(step.client, EXAMPLE_WABA),
                                                    "order_shipped", "en_US"))
    assert outcome.adopted and calls == [] and journal(tmp_path, "12_templates")["writes"][key]["outcome"] == DONE


def test_the_journal_holds_no_secret_and_says_what_was_attempted(sb, tmp_path):
    sb.control.add_fault("connection_reset", method="POST", path=REGISTER)
    steps.register(start("08_register", tmp_path, profile=EXAMPLE, graph_url=sb.url, phone_number_id=DEMO_PHONE))
    text = (tmp_path / "journal" / "08_register.json").read_text()
    assert not find_secrets(text, secret_values(sb.demo_env()))
    entry = json.loads(text)["writes"][f"register:{DEMO_PHONE}"]
    assert entry["what"] == "register the number" and entry["attempts"] == 2
    assert [e["event"] for e in entry["history"]] == ["intent", "unknown", "intent", "done"]
    assert UNKNOWN in {e["event"] for e in entry["history"]}
