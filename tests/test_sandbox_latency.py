"""The sandbox at Meta's pace: --latency-ms delays every Graph response, never the control API."""
from __future__ import annotations

import time

import pytest
import requests

from helpers.sandbox import Sandbox
from helpers.sandbox.latency import Latency


def test_parse_fixed_range_and_none():
    assert Latency.parse("150") == Latency(150, 150)
    assert Latency.parse(" 100 - 300 ") == Latency(100, 300)
    assert Latency.parse(None) == Latency() and Latency.parse("").draw() == 0.0
    assert Latency.parse(150).draw() == 0.15
    drawn = {Latency.parse("100-300").draw() for _ in range(50)}
    assert all(0.1 <= d <= 0.3 for d in drawn) and len(drawn) > 1  # drawn per request
    for bad in ("fast", "300-100", "-5", "100-999999"):
        with pytest.raises(ValueError, match="latency"):
            Latency.parse(bad)


def test_graph_responses_wait_and_the_control_api_does_not():
    # A lower bound only: a delay that was not applied cannot make the call slower than this.
    with Sandbox(latency_ms="400") as sb:
        token = sb.demo_env()["WHATSAPP_TOKEN"]
        started = time.monotonic()
        ok = requests.get(f"{sb.url}/v25.0/200000000000001", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        graph_took = time.monotonic() - started
        error = requests.get(f"{sb.url}/v25.0/200000000000001", headers={"Authorization": "Bearer nope"}, timeout=10)
        error_took = time.monotonic() - started - graph_took
        assert ok.status_code == 200 and error.status_code == 401
        assert graph_took >= 0.4 and error_took >= 0.4


def test_the_control_api_is_never_delayed():
    # With 20 s on every Graph response, a delayed control call would blow SandboxControl's 10 s timeout.
    with Sandbox(latency_ms="20000") as sb:
        assert sb.control.now() > 0


def test_cli_refuses_a_bad_latency(capsys):
    from helpers.cli import main
    assert main(["sandbox", "--latency-ms", "soon", "--port", "0"]) == 2
    assert "--latency-ms: latency 'soon'" in capsys.readouterr().err
