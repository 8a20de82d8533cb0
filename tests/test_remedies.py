"""helpers.remedies: what to do for Graph codes and for the playbook's own failures."""
from __future__ import annotations

from helpers import remedies


def test_lookup_prefers_the_subcode_then_the_code():
    assert remedies.lookup(190, 463).title == "Access token has expired"
    assert remedies.lookup(190, 999).title == "Access token invalid or expired"  # unknown subcode: the code's entry
    assert remedies.lookup(100, 33).subcode == 33 and remedies.lookup(100).subcode is None
    assert remedies.lookup(250).code == 200  # the 200-299 permission range
    assert remedies.lookup(None) is None and remedies.lookup(987654) is None


def test_the_catalogue_has_one_entry_per_key_and_a_remedy_each():
    keys = [(r.code, r.subcode) for r in remedies.catalogue()]
    assert len(keys) == len(set(keys))
    assert all(r.remedy.strip() and r.title.strip() for r in remedies.catalogue())
    # Codes the sandbox answers with during onboarding all have advice.
    for code in (131042, 131047, 133005, 133006, 133008, 133010, 133016, 2200):
        assert remedies.lookup(code) is not None, code
    assert remedies.lookup(130429).retryable and not remedies.lookup(133005).retryable


def test_own_remedies_are_worded_for_where_the_user_is():
    shell = remedies.remedy_text("MissingSecretError", where="shell", env="WHATSAPP_TOKEN")
    lab = remedies.remedy_text("MissingSecretError", where="lab", env="WHATSAPP_TOKEN")
    assert "export WHATSAPP_TOKEN=..." in shell and "password field" not in shell
    assert "password field for WHATSAPP_TOKEN" in lab
    assert "v25.0" in remedies.remedy_text("ApiVersionExpired", version="v25.0")
    assert remedies.own_remedy("AssertionError").kind == "StepCheckFailed"        # an alias
    assert "traceback" in remedies.remedy_text("SomethingNobodyExpected")         # the fallback
    kinds = [r.kind for r in remedies.own_catalogue()]
    assert len(kinds) == len(set(kinds))


# ---- every error the sandbox answers with has a remedy of its own ----------------------------------

import ast  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from helpers.errors import GraphAPIError  # noqa: E402
from helpers.sandbox import graph_errors, scenarios  # noqa: E402
from helpers.sandbox.faults import FAULT_ERRORS  # noqa: E402

SANDBOX_DIR = Path(graph_errors.__file__).parent
# GraphError(...) calls whose code is not written where they are: whatsapp() takes its code from its
# caller (counted at each call), the faults build theirs from their table (FAULT_ERRORS) or from a
# rule's given error (a replayed failure: whatever was recorded).
COMPUTED_ON_PURPOSE = {("graph_errors.py", "whatsapp"), ("faults.py", "make_fault"), ("faults.py", "_given_error")}


def _literal_codes(node: ast.expr) -> list[int] | None:
    """The int(s) an expression can be: a literal, or either branch of `a if cond else b`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, other = _literal_codes(node.body), _literal_codes(node.orelse)
        return body + other if body is not None and other is not None else None
    return None


def _errors_raised_by_the_sandbox() -> tuple[set[tuple[int, int | None]], set[str]]:
    """Every (code, subcode) the sandbox's modules construct, read from their source."""
    found: set[tuple[int, int | None]] = set()
    unreadable: set[str] = set()
    for path in sorted(SANDBOX_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
            name = function.name
            for node in ast.walk(function):
                if isinstance(node, ast.Call):
                    callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                    if callee == "GraphError":
                        codes = _literal_codes(node.args[0]) if node.args else None
                        subcodes = [_literal_codes(k.value) for k in node.keywords if k.arg == "subcode"]
                        if codes is None or (subcodes and subcodes[0] is None):
                            if (path.name, name) not in COMPUTED_ON_PURPOSE:
                                unreadable.add(f"{path.name}:{node.lineno}")
                            continue
                        found |= {(c, subcodes[0][0] if subcodes else None) for c in codes}
                    elif callee == "whatsapp" and node.args and _literal_codes(node.args[0]):
                        code = _literal_codes(node.args[0])[0]
                        found.add((code, graph_errors.WHATSAPP_SUBCODES.get(code)))
                elif isinstance(node, ast.Dict):  # errors in webhooks and health_status: {"error": (code, ...)}
                    for key, value in zip(node.keys, node.values):
                        if isinstance(key, ast.Constant) and key.value in ("error", "error_code"):
                            code = value.elts[0] if isinstance(value, ast.Tuple) and value.elts else value
                            if _literal_codes(code):
                                found.add((_literal_codes(code)[0], None))
    return found | set(FAULT_ERRORS), unreadable


def test_the_registry_lists_exactly_the_errors_the_sandbox_raises():
    found, unreadable = _errors_raised_by_the_sandbox()
    assert not unreadable, f"write these errors' codes as literals (or add the function to COMPUTED_ON_PURPOSE): {unreadable}"
    assert found - graph_errors.SANDBOX_ERRORS == set(), "add to graph_errors.SANDBOX_ERRORS, with a remedy each"
    assert graph_errors.SANDBOX_ERRORS - found == set(), "listed in SANDBOX_ERRORS but never raised any more"
    assert {(100, 2388024), (100, 36007), (100, 36009), (130429, 2494055)} <= found  # the scan sees what it should


def _expected_by_scenarios() -> set[tuple[int, int | None]]:
    pairs = set()
    for entry in scenarios.catalogue().values():
        expected = entry.get("expected_error") or {}
        if expected.get("code") is not None:
            pairs.add((int(expected["code"]), expected.get("subcode")))
    return pairs


def test_every_error_the_sandbox_answers_has_a_remedy_written_for_it():
    wanted = graph_errors.SANDBOX_ERRORS | set(FAULT_ERRORS) | _expected_by_scenarios()
    missing = sorted((k for k in wanted if remedies.lookup_exact(*k) is None), key=str)
    assert missing == [], f"add an entry of its own to helpers/remedies.py for each (code, subcode): {missing}"


def test_each_entry_says_something_of_its_own():
    texts = [r.remedy for r in remedies.catalogue()]
    assert len(texts) == len(set(texts)), "two entries share a remedy: say what to do for that subcode"
    for entry in remedies.catalogue():
        if entry.subcode is not None:
            general = remedies.lookup_exact(entry.code)
            assert general is None or general.title != entry.title, (entry.code, entry.subcode)


def test_the_transient_faults_are_retried_by_the_client():
    assert all(remedies.lookup_exact(*pair).retryable for pair in FAULT_ERRORS)
    assert remedies.lookup_exact(130429, 2494055).retryable and not remedies.lookup_exact(131030, 2494055).retryable


def test_an_unknown_subcode_says_its_advice_is_the_codes_in_general():
    error = GraphAPIError("(#100) Invalid parameter", code=100, subcode=424242)
    assert remedies.lookup(100).remedy in error.remedy and "Subcode 424242 has no entry of its own" in error.remedy
    assert "no entry of its own" not in GraphAPIError("x", code=100, subcode=2388024).remedy


# ---- the remedies the sandbox's real answers get -------------------------------------------------

@pytest.fixture
def client(sb):
    from helpers.client import GraphClient
    return GraphClient(graph_url=sb.url, token_env="WHATSAPP_TOKEN", timeout=10)


def test_a_template_created_twice_gets_the_it_exists_remedy(client):
    template = {"name": "order_ready", "language": "en_US", "category": "UTILITY",
                "components": [{"type": "BODY", "text": "Your order {{1}} is ready."}]}
    client.post("200000000000001/message_templates", json=template)
    with pytest.raises(GraphAPIError) as caught:
        client.post("200000000000001/message_templates", json=template)
    assert (caught.value.code, caught.value.subcode) == (100, 2388024)
    assert caught.value.remedy == remedies.lookup_exact(100, 2388024).remedy
    assert "Read it back" in caught.value.remedy and caught.value.fbtrace_id


def test_a_reused_and_an_expired_signup_code_get_their_own_remedies(sb, client):
    from helpers import operations as ops
    code = sb.control.signup_code("200000000000001", "300000000000001")
    exchange = dict(app_id="300000000000001", app_secret_env="WHATSAPP_APP_SECRET", store_in_env="PLAYBOOK_TEST_BUSINESS_TOKEN")
    try:
        ops.exchange_signup_code(client, code=code, **exchange)
        with pytest.raises(GraphAPIError) as used:
            ops.exchange_signup_code(client, code=code, **exchange)
        late = sb.control.signup_code("200000000000001", "300000000000001")
        sb.control.advance_clock(31)
        with pytest.raises(GraphAPIError) as expired:
            ops.exchange_signup_code(client, code=late, **exchange)
    finally:
        import os
        os.environ.pop("PLAYBOOK_TEST_BUSINESS_TOKEN", None)
    assert (used.value.subcode, expired.value.subcode) == (36009, 36007)
    assert "use the business token that first exchange returned" in used.value.remedy
    assert "Embedded Signup again" in expired.value.remedy and expired.value.remedy != used.value.remedy
