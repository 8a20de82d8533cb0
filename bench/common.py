"""What the benches share: the setup around customers run one after another (not through run_batch),
and how many customers a batch ran at once."""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers.sandbox import Sandbox
from helpers.sandbox.fleet import write_fleet
from helpers.sandbox.peer import peer_environment
from helpers.webhooks import WebhookReceiver


@contextmanager
def sandbox_customers(count: int, folder: Path) -> Iterator[tuple[list[Path], dict[str, str]]]:
    """A sandbox seeded with `count` fleet customers, its demo secrets in this process's environment, the
    sandbox as the steps' peer (09's consumer) and a webhook receiver: yields the profiles and run_customer's
    overrides."""
    seed, profiles = write_fleet(count, folder / "fleet")
    with Sandbox(seed=seed) as sandbox, peer_environment(sandbox.url):
        os.environ.update(sandbox.demo_env())
        webhook_db = folder / "hooks.sqlite"
        with WebhookReceiver(webhook_db, verify_token_env="PARTNER_VERIFY_TOKEN",
                             app_secret_env="PARTNER_APP_SECRET") as receiver:
            yield profiles, {"graph_url": sandbox.url, "callback_url": receiver.callback_url,
                             "webhook_db": str(webhook_db)}


def customers_at_once(result: dict) -> int:
    """How many customers run_batch ran at once: the workers its batch.json records (--workers auto
    resolved when it started), never more than it had customers."""
    workers = json.loads((Path(result["batch_dir"]) / "batch.json").read_text())["workers"]
    return min(workers, len(result["table"]))
