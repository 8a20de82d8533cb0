"""Webhook receiver throughput and latency, against a no-op handler on the same server.

    python bench/bench_webhooks.py [--events 20000] [--connections 32]

Starts `python -m helpers webhooks serve` in a subprocess, posts signed, distinct, real-shaped
notifications (one message to three statuses, as a sending business sees them) over keep-alive
connections from this process, and prints events/s and latency percentiles to the 200. It does
the same first against a no-op request handler on the same tornado HTTP server (reads the body,
answers 200, checks and stores nothing) and prints the ratio. Finally it checks that every event
is in the store once.

Target (issue 4): at least 3,000 events/s with p99 under 100 ms on a 2-core machine. Throughput
on a shared machine moves with its other load; the server's CPU time per event (from /proc) does
not, and is printed too.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers.webhooks import payloads  # noqa: E402

FAKE_VERIFY_TOKEN = "bench-fake-verify-token"
FAKE_APP_SECRET = "bench-fake-app-secret"
URL_IN_BANNER = re.compile(r"(http://\S+?)/webhook")


def make_events(count: int) -> list[bytes]:
    """Distinct bodies: each message id sent, then delivered, then read (plus the incoming message)."""
    bodies, message_id, base = [], "", int(time.time())
    for i in range(count):
        step = i % 4
        if step == 0:
            message = payloads.text_message(f"Pedido nº {i} — obrigado! ✅", from_number=f"1650555{i % 10000:04d}",
                                            timestamp=base + i)
            message_id = message["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
            bodies.append(payloads.encode(message))
        else:
            status = ("sent", "delivered", "read")[step - 1]
            bodies.append(payloads.encode(payloads.status(message_id, status, timestamp=base + i)))
    return bodies


def requests_for(url: str, bodies: list[bytes]) -> list[bytes]:
    parts = urlsplit(url)
    path = (parts.path or "/").encode()
    host = parts.netloc.encode()
    out = []
    for body in bodies:
        head = (b"POST " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\nContent-Type: application/json\r\n"
                b"X-Hub-Signature-256: " + payloads.sign(body, FAKE_APP_SECRET).encode() +
                b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        out.append(head + body)
    return out


async def _connection(host: str, port: int, queue: list[bytes], latencies: list[float], failures: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while queue:
            request = queue.pop()
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length:\s*(\d+)", head)
            if length and int(length.group(1)):
                await reader.readexactly(int(length.group(1)))
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                failures.append(int(head[9:12]))
    finally:
        writer.close()


async def _load(url: str, requests: list[bytes], connections: int) -> tuple[float, list[float], list[int]]:
    parts = urlsplit(url)
    queue = list(reversed(requests))
    latencies: list[float] = []
    failures: list[int] = []
    started = time.perf_counter()
    await asyncio.gather(*(_connection(parts.hostname, parts.port, queue, latencies, failures)
                           for _ in range(connections)))
    return time.perf_counter() - started, latencies, failures


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(url: str, bodies: list[bytes], connections: int, server_pid: int) -> dict:
    warmup = make_events(400)
    asyncio.run(_load(url, requests_for(url, warmup), connections))
    cpu_before = cpu_seconds(server_pid)
    elapsed, latencies, failures = asyncio.run(_load(url, requests_for(url, bodies), connections))
    server_cpu = cpu_seconds(server_pid) - cpu_before
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {"events": len(latencies), "seconds": elapsed, "per_second": len(latencies) / elapsed,
            "p50_ms": pick(0.50), "p99_ms": pick(0.99), "max_ms": latencies[-1] * 1000, "non_200": len(failures),
            "server_cpu_us": server_cpu / len(latencies) * 1e6, "warmup": len(warmup)}


def start_server(command: list[str]) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, BENCH_VERIFY_TOKEN=FAKE_VERIFY_TOKEN, BENCH_APP_SECRET=FAKE_APP_SECRET,
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
    line = process.stdout.readline()
    match = URL_IN_BANNER.search(line)
    if not match:
        process.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return process, match.group(1) + "/webhook"


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(10)


def serve_noop(port: int) -> None:
    """The baseline: the same tornado HTTP server and request layer, answering 200 without a look."""
    from tornado import httputil

    from helpers.serving import serve_forever
    from helpers.webhooks.receiver import SERVER_BODY_LIMIT

    class NoopRequest(httputil.HTTPMessageDelegate):
        def __init__(self, connection: httputil.HTTPConnection) -> None:
            self.connection = connection

        def finish(self) -> None:
            self.connection.write_headers(httputil.ResponseStartLine("", 200, "OK"),
                                          httputil.HTTPHeaders({"Content-Length": "0"}))
            self.connection.finish()

    class Noop(httputil.HTTPServerConnectionDelegate):
        def start_request(self, server_conn, request_conn) -> NoopRequest:
            return NoopRequest(request_conn)

    serve_forever(Noop(), "127.0.0.1", port, max_body_size=SERVER_BODY_LIMIT,
                  banner=lambda url: print(f"no-op server at {url}/webhook", flush=True))


def stored_rows(db: Path) -> tuple[int, int]:
    with sqlite3.connect(db) as conn:
        return (conn.execute("SELECT count(*) FROM messages").fetchone()[0],
                conn.execute("SELECT count(*) FROM statuses").fetchone()[0])


def report(name: str, result: dict) -> None:
    print(f"{name:<9} {result['events']:>6} events in {result['seconds']:5.2f} s = {result['per_second']:7.0f} events/s;"
          f" latency to the 200: p50 {result['p50_ms']:5.1f} ms, p99 {result['p99_ms']:5.1f} ms,"
          f" max {result['max_ms']:6.1f} ms; non-200: {result['non_200']};"
          f" server CPU {result['server_cpu_us']:.0f} µs/event")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--serve-noop", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_noop is not None:
        serve_noop(args.serve_noop)
        return 0

    bodies = make_events(args.events)
    print(f"{os.cpu_count()} CPUs; {args.events} signed events (1 message : 3 statuses, "
          f"{sum(map(len, bodies)) // len(bodies)} bytes on average) over {args.connections} keep-alive connections")
    noop, url = start_server([sys.executable, __file__, "--serve-noop", "0"])
    try:
        baseline = measure(url, bodies, args.connections, noop.pid)
    finally:
        stop_server(noop)
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
        db = Path(tmp) / "webhooks.sqlite"
        receiver, url = start_server([sys.executable, "-m", "helpers", "webhooks", "serve", "--port", "0",
                                      "--db", str(db), "--verify-token-env", "BENCH_VERIFY_TOKEN",
                                      "--app-secret-env", "BENCH_APP_SECRET"])
        try:
            result = measure(url, bodies, args.connections, receiver.pid)
        finally:
            stop_server(receiver)
        messages, statuses = stored_rows(db)
    report("no-op", baseline)
    report("receiver", result)
    print(f"receiver / no-op throughput: {result['per_second'] / baseline['per_second']:.2f}; "
          f"p99 {result['p99_ms']:.1f} ms vs {baseline['p99_ms']:.1f} ms; "
          f"server CPU per event {result['server_cpu_us'] / baseline['server_cpu_us']:.2f}x")
    expected = args.events + result["warmup"]
    print(f"stored: {messages} messages + {statuses} statuses = {messages + statuses} rows for {expected} events posted")
    ok = result["per_second"] >= 3000 and result["p99_ms"] < 100 and messages + statuses == expected and not result["non_200"]
    print("target (>= 3,000 events/s, p99 < 100 ms, every event stored once):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
