"""One running sandbox: seed, clock, state, webhook delivery and (optionally) the SQLite store.

Both ways of serving it, in-process (Sandbox) and the CLI, use this object's on_start/on_stop.
"""
from __future__ import annotations

import asyncio
import collections
import logging
from pathlib import Path

from . import scenarios, templates
from .clock import SandboxClock
from .faults import FaultPlan
from .latency import Latency
from .models import PhoneNumber, StatusPlan
from .persistence import StateStore
from .seed import Seed
from .state import SandboxState
from . import graph_errors as err
from .webhook_delivery import WebhookDelivery

log = logging.getLogger("helpers.sandbox")
SAVE_DELAY = 0.25  # seconds: changes within this are written together


class SandboxService:
    def __init__(self, seed: str | Path | None = None, state_path: str | Path | None = None,
                 latency: Latency | None = None, faults: FaultPlan | None = None) -> None:
        self.seed = Seed(seed)
        self.latency = latency or Latency()
        self.faults = faults or FaultPlan()
        self.clock = SandboxClock()
        self.delivery = WebhookDelivery(self.clock, self.faults)
        self.store = StateStore(state_path) if state_path else None
        saved = self.store.load() if self.store else None
        if saved is not None:
            restored = SandboxClock.from_dict(saved.get("clock", {}))
            self.clock.offset, self.clock.frozen_at = restored.offset, restored.frozen_at
            self.state = SandboxState.from_dict(saved, self.clock)
        else:
            self.state = self.seed.build(self.clock)
        self._save_scheduled = False
        # Graph API requests since start or reset (GET /_sandbox/stats; a scenario keeps the count): method and path, never the query.
        self.graph_requests = 0
        self.recent_graph_requests: collections.deque[str] = collections.deque(maxlen=50)

    def count_graph_request(self, method: str, path: str) -> None:
        self.graph_requests += 1
        self.recent_graph_requests.append(f"{method} {path}")

    def graph_stats(self) -> dict:
        return {"graph_requests": self.graph_requests, "recent": list(self.recent_graph_requests)}

    def demo_env(self) -> dict[str, str]:
        return self.seed.demo_env()

    # ---- lifecycle ----------------------------------------------------------------------------

    async def on_start(self) -> None:
        self.delivery.on_tick = self.finish_template_reviews
        self.delivery.start()

    async def on_stop(self) -> None:
        self.delivery.stop()
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current]
        for task in pending:  # in-flight webhook posts: the server is going away
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self.store is not None:
            self.store.save(self.state.to_dict())
            self.store.close()

    def changed(self) -> None:
        """Note a change to the state; with --state, write it shortly (changes close together share a write)."""
        if self.store is None or self._save_scheduled:
            return
        self._save_scheduled = True
        asyncio.get_running_loop().call_later(SAVE_DELAY, self._save)

    def _save(self) -> None:
        self._save_scheduled = False
        try:
            self.store.save(self.state.to_dict())
        except Exception:  # a full disk must not take the sandbox down; the next change retries
            log.exception("could not save the sandbox state")

    # ---- control operations -----------------------------------------------------------------

    def reset(self, *, keep_request_count: bool = False) -> None:
        """Back to the seed: state (and its writes ledger), clock, webhook log, fault rules and counters
        (the rate stays), and (unless kept) the Graph request count."""
        self.clock.offset, self.clock.frozen_at = 0.0, None
        self.state = self.seed.build(self.clock)
        self.delivery.clear()
        self.faults.reset()
        if not keep_request_count:
            self.graph_requests = 0
            self.recent_graph_requests.clear()
        self.changed()

    def load_scenario(self, name: str) -> dict:
        catalogue = scenarios.catalogue()
        if name not in catalogue:
            raise scenarios.ScenarioError(f"no scenario named {name!r}; known: {', '.join(catalogue)}")
        self.reset(keep_request_count=True)  # a page that breaks a scenario must still show it made no Graph call
        scenarios.apply(self.state, self.demo_env(), catalogue[name].get("setup") or [], self.faults)
        self.changed()
        return scenarios.describe(catalogue[name])

    # ---- webhooks out -------------------------------------------------------------------------

    def report_statuses(self, phone: PhoneNumber, plan: StatusPlan) -> None:
        targets = self.state.webhook_targets(phone, "messages")
        if not targets:
            return
        notifications = []
        # Current status payloads name the recipient twice: recipient_id and contacts[], with the business-scoped ID.
        user_id = self.state.business_scoped_id(phone, plan.recipient)
        for step in plan.statuses:
            status = {"id": plan.wamid, "status": step["status"], "timestamp": str(int(self.clock.now())),
                      "recipient_id": plan.recipient, "recipient_user_id": user_id}
            if "pricing" in step:
                status["pricing"] = step["pricing"]
            if "error" in step:
                status["errors"] = [err.webhook_error(*step["error"])]
            value = {"messaging_product": "whatsapp", "metadata": self.state.metadata(phone),
                     "contacts": [{"wa_id": plan.recipient, "user_id": user_id}], "statuses": [status]}
            notifications += self.delivery.notify(targets, phone.waba_id, "messages", value, f"status:{step['status']}")
        self.delivery.send_soon(notifications)

    def finish_template_reviews(self) -> None:
        """Templates whose review is due on the sandbox clock: approved or rejected, and the apps told."""
        for waba, value in templates.due_reviews(self.state):
            targets = self.state.waba_webhook_targets(waba, "message_template_status_update")
            self.delivery.send_soon(self.delivery.notify(targets, waba.id, "message_template_status_update", value,
                                                         f"template:{value['event'].lower()}", entry_time=True))
            self.changed()

    def report_inbound(self, phone: PhoneNumber, value: dict) -> int:
        """Deliver an incoming message; returns how many callbacks it goes to."""
        targets = self.state.webhook_targets(phone, "messages")
        self.delivery.send_soon(self.delivery.notify(targets, phone.waba_id, "messages", value, "message"))
        return len(targets)
