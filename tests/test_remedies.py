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
