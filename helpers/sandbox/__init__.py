"""The sandbox: an offline Graph API emulator that behaves like Meta's (paths, shapes, errors,
limits, webhooks), for training, tests and the demo. See docs/sandbox.md.

    from helpers.sandbox import Sandbox
    with Sandbox() as sb:
        sb.url, sb.demo_env(), sb.control.advance_clock(3600)
"""
from .control import SandboxControl, SandboxControlError
from .server import Sandbox

__all__ = ["Sandbox", "SandboxControl", "SandboxControlError"]
