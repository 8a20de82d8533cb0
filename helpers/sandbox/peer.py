"""The sandbox as the steps' peer: its control API reads the "SMS" and plays the consumer.

Whatever starts a sandbox (the CLI, the lab, the batch runner, tests) puts `peer_env(url)` into
the environment of the steps it runs; `helpers.peers.peer_for` then finds `SandboxPeer` there,
so helpers/steps never imports the sandbox.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

from ..processes import temporary_environ
from ..peers import Peer, peer_env as _peer_env
from .control import SandboxControl

FACTORY = f"{__name__}:SandboxPeer"


class SandboxPeer(Peer):
    """What a person does against Meta, done through the sandbox's /_sandbox/ control API."""

    name = "sandbox"
    local_callbacks = True  # the sandbox delivers webhooks from this machine
    consumer_reads = True   # its consumers read each message: the "read" status follows at once

    def __init__(self, graph_url: str) -> None:
        self.control = SandboxControl(graph_url)

    def verification_code(self, phone_number_id: str) -> str | None:
        return str(self.control.verification_code(phone_number_id))

    def consumer_writes(self, phone_number_id: str, from_number: str, text: str) -> bool:
        self.control.consumer_message(phone_number_id, from_number, text)
        return True

    def now(self) -> float | None:
        return float(self.control.now())  # the sandbox clock can be advanced: windows follow it

    def let_time_pass(self, seconds: float) -> bool:
        self.control.advance_clock(max(0.0, float(seconds)))  # reviews due by then finish at once
        return True

    def __repr__(self) -> str:
        return f"SandboxPeer({self.control.url!r})"


def peer_env(graph_url: str) -> dict[str, str]:
    """PLAYBOOK_PEER and PLAYBOOK_PEER_URL naming the sandbox at graph_url (no secrets)."""
    return _peer_env(FACTORY, graph_url)


@contextlib.contextmanager
def peer_environment(graph_url: str) -> Iterator[dict[str, str]]:
    """The sandbox's peer variables in os.environ for the block (children inherit them), then restored."""
    values = peer_env(graph_url)
    with temporary_environ(values):
        yield values
