"""The vendored spec, its compact index and the differences list agree with each other and with the docs."""
from __future__ import annotations

import re
from pathlib import Path

from helpers import spec
from helpers.spec.build_index import build, differences_table
import spec_validation as sv

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sandbox.md"


def test_the_committed_index_is_built_from_the_vendored_spec():
    assert spec.index() == build(spec.load(), spec.SPEC_PATH.read_bytes()), \
        "helpers/spec/index.json is stale: run `python -m helpers.spec`"


def test_the_spec_is_vendored_unmodified_with_its_licence():
    assert spec.index()["source"]["version"] == spec.SPEC_VERSION == spec.load()["info"]["version"]
    assert spec.load()["openapi"].startswith("3.1")
    assert "MIT License" in (spec.HERE / "LICENSE").read_text()
    assert "unmodified" in (spec.HERE / "README.md").read_text()


def test_every_difference_is_well_formed():
    ids = [d["id"] for d in spec.live_meta()]
    assert len(ids) == len(set(ids)), "duplicate difference ids"
    for diff in spec.live_meta():
        assert diff.get("source") and diff.get("live"), diff["id"]
        if "where" in diff:
            places = diff["where"] if isinstance(diff["where"], list) else [diff["where"]]
            for place in places:
                sv.resolve(place)  # raises when the pointer does not exist in the spec
            assert diff["check"] in ("enum", "required", "additionalProperties", "type", "maxLength"), diff["id"]
            assert set(diff["applies_to"]) <= set(sv.CONTEXTS), diff["id"]
        if "node" in diff:
            assert diff["node"] in spec.index()["nodes"] and diff["field"], diff["id"]
        if "narrows" in diff:  # enum values the spec lists and live Meta refuses
            enum = sv.resolve(diff["narrows"])["enum"]
            assert diff["refuses"] and set(diff["refuses"]) <= set(enum), diff["id"]


def test_docs_list_exactly_the_differences():
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Known differences from the spec", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z0-9_.-]+)` \|", section, flags=re.M)
    assert sorted(documented) == sorted(d["id"] for d in spec.live_meta())
    assert differences_table(spec.live_meta()) in section, "docs/sandbox.md is stale: run `python -m helpers.spec`"


def test_the_assignable_waba_tasks_are_metas_list():
    """POST /{waba_id}/assigned_users: the tasks of Meta's assigned_users reference, plus the three its
    "Manage system users" page names for a WABA shared through a Multi-Partner Solution; the spec's
    RECEIVE_INCOMING_MESSAGES and FULL_CONTROL are not assignable (live_meta.yaml waba-tasks-assignable)."""
    reference = ["MANAGE", "DEVELOP", "MANAGE_TEMPLATES", "MANAGE_PHONE", "VIEW_COST", "MANAGE_EXTENSIONS",
                 "VIEW_PHONE_ASSETS", "MANAGE_PHONE_ASSETS", "VIEW_TEMPLATES", "MESSAGING"]
    multi_partner = ["VIEW_INSIGHTS", "MANAGE_USERS", "MANAGE_BILLING"]
    assert sorted(spec.index()["waba_permission_tasks"]) == sorted(reference + multi_partner)
    assert "FULL_CONTROL" not in spec.index()["waba_permission_tasks"]
    spec_enum = spec.load()["components"]["schemas"]["WhatsAppBusinessAccountPermissionTask"]["enum"]
    assert {"FULL_CONTROL", "RECEIVE_INCOMING_MESSAGES"} <= set(spec_enum)  # the vendored spec stays unmodified
