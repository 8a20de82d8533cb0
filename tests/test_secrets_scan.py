"""helpers.secrets_scan: one automaton finds every secret of a batch in one pass, by the same rule as
`contains` (all-digit secrets only standing alone, JSON-escaped forms found too)."""
from __future__ import annotations

import pytest

from helpers.secrets_scan import SecretMatcher, contains, find_leaks, scan_tree

CASES = [
    (b'{"pin": "736194"}', "736194"),
    (b"PIN 736194\n", "736194"),
    (b'"end_time": "2026-11-24T03:19:18.736194Z"', "736194"),  # microseconds, by chance
    (b"id 4007361940", "736194"),                                # inside a longer number
    (b"7361945", "736194"),                                      # followed by a digit
    (b"x736194", "736194"),                                      # after a letter: counts
    (b'"text": "token=abc\\"def"', 'abc"def'),                   # JSON-escaped form
    (b"token=abc\"def", 'abc"def'),
    ('"note": "비밀-토큰-0001"'.encode(), "비밀-토큰-0001"),          # UTF-8, byte for byte
    (b'"note": "\\ube44\\ubc00-\\ud1a0\\ud070-0001"', "비밀-토큰-0001"),  # JSON's ASCII escapes
    (b"nothing here", "fake-token-0009"),
]


@pytest.mark.parametrize("data,value", CASES)
def test_the_matcher_agrees_with_contains(data, value):
    expected = ["S"] if contains(data, value) else []
    assert SecretMatcher({"S": value}).names_in(data) == expected


def test_hundreds_of_secrets_in_one_pass_name_each_hit_in_the_order_given():
    secrets = {f"FLEET_{i:03d}_TOKEN": f"fake-fleet-token-{i:04d}-abcdef" for i in range(300)}
    secrets.update({f"FLEET_{i:03d}_PIN": f"{500000 + i * 7:06d}" for i in range(300)})
    secrets["TWIN_TOKEN"] = secrets["FLEET_042_TOKEN"]  # two names, one value: both named
    data = (b"x" * 10_000 + b" fake-fleet-token-0042-abcdef " + b"at 2026-01-01T00:00:00.500014Z "
            + b" pin 500014 " + b"y" * 10_000)
    assert SecretMatcher(secrets).names_in(data) == ["FLEET_042_TOKEN", "FLEET_002_PIN", "TWIN_TOKEN"]
    assert SecretMatcher({}).names_in(data) == [] and SecretMatcher({"EMPTY": ""}).names_in(data) == []


def test_find_leaks_and_scan_tree_remove_only_the_files_that_hold_a_secret(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "leak.json").write_text('{"token": "fake-leaked-0001"}')
    (tmp_path / "clean.json").write_text('{"token_env": "ALPHA_TOKEN"}')
    secrets = {"ALPHA_TOKEN": "fake-leaked-0001", "BETA_TOKEN": "fake-other-0002"}
    assert find_leaks(tmp_path / "a" / "leak.json", secrets) == ["ALPHA_TOKEN"]
    assert find_leaks(tmp_path / "missing.json", secrets) == []
    assert scan_tree(tmp_path, secrets) == {"a/leak.json": ["ALPHA_TOKEN"]}
    assert not (tmp_path / "a" / "leak.json").exists() and (tmp_path / "clean.json").exists()
