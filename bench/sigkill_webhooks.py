"""Kill the receiver with SIGKILL in the middle of a concurrent load: nothing that got a 200 is lost.

    python bench/sigkill_webhooks.py [--events 2000] [--workers 8]

1. Starts `python -m helpers webhooks serve` on a fresh store and posts distinct signed events
   (messages and their statuses) from several threads at once.
2. Once half of them have been answered 200, kills the server with SIGKILL (no shutdown code runs).
3. Restarts it on the same file and checks that every event answered 200 is there (0 lost) and
   that the file passes SQLite's integrity check.
4. Re-posts every event, answered or not, and checks that each is stored exactly once.
Exit status 0 when all of that holds.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import sqlite3
import sys
import tempfile
import threading
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_webhooks import FAKE_APP_SECRET, make_events, start_server, stop_server  # noqa: E402

from helpers.webhooks import payloads  # noqa: E402  (bench_webhooks put the project on sys.path)


def event_key(body: bytes) -> tuple:
    """What identifies the event in the store: ('message', id) or ('status', id, status, timestamp)."""
    value = json.loads(body)["entry"][0]["changes"][0]["value"]
    if "messages" in value:
        return ("message", value["messages"][0]["id"])
    status = value["statuses"][0]
    return ("status", status["id"], status["status"], status["timestamp"])


def stored_keys(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return ([("message", row[0]) for row in conn.execute("SELECT id FROM messages")] +
                [("status", *row) for row in conn.execute("SELECT message_id, status, timestamp FROM statuses")])


def post_all(url: str, bodies: list[bytes], workers: int, on_ok=lambda: None) -> list[bool]:
    """POST every body from `workers` threads; True where the answer was 200."""
    answered = [False] * len(bodies)
    todo: queue.Queue[int] = queue.Queue()
    for index in range(len(bodies)):
        todo.put(index)

    def worker() -> None:
        with requests.Session() as session:
            while True:
                try:
                    index = todo.get_nowait()
                except queue.Empty:
                    return
                body = bodies[index]
                try:
                    response = session.post(url, data=body, headers=payloads.signed_headers(body, FAKE_APP_SECRET),
                                            timeout=10)
                except requests.RequestException:
                    continue  # the server is gone: not answered
                if response.status_code == 200:
                    answered[index] = True
                    on_ok()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answered


def serve_command(db: Path) -> list[str]:
    return [sys.executable, "-m", "helpers", "webhooks", "serve", "--port", "0", "--db", str(db),
            "--verify-token-env", "BENCH_VERIFY_TOKEN", "--app-secret-env", "BENCH_APP_SECRET"]


def run(events: int = 2000, workers: int = 8) -> dict:
    bodies = make_events(events)
    keys = [event_key(body) for body in bodies]
    with tempfile.TemporaryDirectory(prefix="sigkill-webhooks-") as tmp:
        db = Path(tmp) / "webhooks.sqlite"
        server, url = start_server(serve_command(db))
        answered_count = 0
        lock = threading.Lock()

        def count_and_kill() -> None:
            nonlocal answered_count
            with lock:
                answered_count += 1
                if answered_count == events // 2:
                    os.kill(server.pid, signal.SIGKILL)

        try:
            answered = post_all(url, bodies, workers, on_ok=count_and_kill)
        finally:
            server.kill()
            server.wait(10)
        killed_by = -server.returncode

        server, url = start_server(serve_command(db))
        try:
            present = set(stored_keys(db))
            lost = [keys[i] for i, ok in enumerate(answered) if ok and keys[i] not in present]
            with sqlite3.connect(db) as conn:
                integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
            reposted = post_all(url, bodies, workers)
        finally:
            stop_server(server)
        after = stored_keys(db)
        with sqlite3.connect(db) as conn:
            deliveries = conn.execute("SELECT count(*) FROM deliveries").fetchone()[0]
    return {
        "events": events,
        "killed_by_signal": killed_by,
        "answered_200_before_kill": sum(answered),
        "stored_before_repost": len(present),
        "lost": len(lost),
        "integrity_check": integrity,
        "reposted_answered_200": sum(reposted),
        "stored_after_repost": len(after),
        "stored_twice": len(after) - len(set(after)),
        "distinct_events": len(set(keys)),
        "deliveries_after_repost": deliveries,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    result = run(args.events, args.workers)
    for name, value in result.items():
        print(f"{name:>26}: {value}")
    ok = (result["killed_by_signal"] == signal.SIGKILL and result["lost"] == 0 and result["integrity_check"] == "ok"
          and result["events"] // 2 <= result["answered_200_before_kill"] < result["events"]
          and result["reposted_answered_200"] == result["events"] and result["stored_twice"] == 0
          and result["stored_after_repost"] == result["distinct_events"]
          and result["deliveries_after_repost"] == result["events"])
    print("every event answered 200 survived SIGKILL, and re-posting stored nothing twice:", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
