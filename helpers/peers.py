"""Who plays the parts of onboarding that happen outside the Graph API.

Against Meta a person does them: reads the SMS with the verification code, sends a WhatsApp
message from the consumer's phone. Against an emulator (the playbook's sandbox) a program does.
The steps ask a `Peer` and never know which one answers, so the glue that runs against Meta
carries no emulator code.

    peer = peer_for(graph_url)     # PersonPeer unless the process that started an emulator named one
    peer.verification_code("400000000000002")            # None: ask the person
    peer.consumer_writes("400000000000001", "+16505550100", "Hello!")   # False: a person must send it

A process that starts an emulator names its peer in the environment, so that every step in it
and in its kernels finds the peer without importing the emulator:

    PLAYBOOK_PEER=package.module:factory   the factory, called with the graph_url; returns a Peer
    PLAYBOOK_PEER_URL=http://127.0.0.1:8765   the Graph API the peer stands beside; steps pointed
                                              anywhere else (Meta) get the PersonPeer

Neither variable ever holds a secret: a module path and a URL without credentials.
"""
from __future__ import annotations

import importlib
import os
import urllib.parse
from typing import Callable

from .errors import ConfigError
from .i18n import _

ENV_PEER = "PLAYBOOK_PEER"
ENV_PEER_URL = "PLAYBOOK_PEER_URL"


class Peer:
    """The other side of the onboarding steps. The defaults are a person's: nothing automatic."""

    name = "person"
    # True when the Graph API beside this peer runs on this machine and can reach a webhook
    # receiver on loopback; Meta needs an internet-facing HTTPS callback.
    local_callbacks = False
    # True when the consumer this peer plays reads messages at once, so a "read" status follows
    # within seconds; a real person may never open the chat while a step waits.
    consumer_reads = False

    def verification_code(self, phone_number_id: str) -> str | None:
        """The code sent by SMS (or voice) after request_code, or None when a person must enter it."""
        return None

    def consumer_writes(self, phone_number_id: str, from_number: str, text: str) -> bool:
        """Send `text` from the consumer to the business number; False when a person must send it."""
        return False

    def now(self) -> float | None:
        """Epoch seconds on the clock the Graph API timestamps with; None: this machine's clock."""
        return None

    def let_time_pass(self, seconds: float) -> bool:
        """Move the Graph API's clock `seconds` ahead (a template review, say); False: real time must pass."""
        return False

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class PersonPeer(Peer):
    """Against Meta: the person enters the code (form or `verification_code`) and writes from a phone."""


def peer_for(graph_url: str) -> Peer:
    """The peer for a step talking to `graph_url`: the one named by PLAYBOOK_PEER, else a PersonPeer.

    Nothing is guessed from the URL (a loopback address is not proof of an emulator): only the
    process that started one knows it is there.
    """
    spec = os.environ.get(ENV_PEER, "").strip()
    if not spec:
        return PersonPeer()
    bound_to = os.environ.get(ENV_PEER_URL, "").strip()
    if bound_to and not _same_url(bound_to, graph_url):
        return PersonPeer()  # e.g. a lab kernel pointed at Meta: a person plays there
    peer = _factory(spec)(graph_url)
    if not isinstance(peer, Peer):
        raise ConfigError(_("{env}={spec} returned {returned}, not a helpers.peers.Peer.").format(
            env=ENV_PEER, spec=spec, returned=type(peer).__name__))
    return peer


def _factory(spec: str) -> Callable[[str], Peer]:
    module_name, _sep, attribute = spec.partition(":")
    try:
        if not module_name or not attribute:
            raise ValueError("expected module:callable")
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(_("{env}={spec} does not name a peer factory (module:callable): {error}. "
                            "Unset {env} to have a person play the consumer and read the SMS.").format(
            env=ENV_PEER, spec=spec, error=exc)) from None
    if not callable(factory):
        raise ConfigError(_("{env}={spec} is not callable.").format(env=ENV_PEER, spec=spec))
    return factory


def _same_url(a: str, b: str) -> bool:
    def key(url: str) -> tuple:
        parts = urllib.parse.urlsplit(url.strip())
        return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port, parts.path.rstrip("/")
    return key(a) == key(b)


def peer_env(factory: str, graph_url: str) -> dict[str, str]:
    """The two variables that name a peer for the Graph API at graph_url (for a starter's children)."""
    parts = urllib.parse.urlsplit(graph_url)
    if parts.username or parts.password or parts.query or parts.fragment:
        # These variables are printed and inherited everywhere: a URL carrying credentials must not go in.
        raise ConfigError(_("{env} must be a plain URL without credentials or a query string.").format(env=ENV_PEER_URL))
    return {ENV_PEER: factory, ENV_PEER_URL: graph_url.rstrip("/")}
