"""Sandbox Graph API throughput on loopback, against a no-op handler on the same server.

    python bench/bench_sandbox.py [--requests 20000] [--connections 16]

Serves the sandbox (default seed) in a subprocess, with one extra route, a tornado handler that
answers `{}` and does nothing else. From this process, keep-alive connections send a mix of
Graph requests: two phone_numbers reads (GET /v25.0/{WABA}/phone_numbers) for each hello_world
template send (POST /v25.0/{PHONE}/messages, from the 1,000 mps number). The same requests
then go to the no-op route. It prints requests/s and latency for both, and the ratio.

Target (issue 3): at least 1,000 Graph requests/s on a 2-core machine.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers.sandbox.seed import Seed  # noqa: E402

WABA = "200000000000001"
PHONE = "400000000000006"   # registered, HIGH throughput (1,000 mps)
NOOP_PATH = "/_bench/noop"
TIME_LIMIT = 120.0          # seconds per run, whatever --requests says
URL_IN_BANNER = re.compile(r"(http://127\.0\.0\.1:\d+)")


def build_requests(host: str, token: str, count: int, prefix: str | None) -> list[bytes]:
    """Raw HTTP/1.1 requests; prefix None: the real Graph paths, else every path replaced by the no-op one."""
    send_body = json.dumps({"messaging_product": "whatsapp", "to": "+16505550100", "type": "template",
                            "template": {"name": "hello_world", "language": {"code": "en_US"}}}).encode()
    read_path = prefix or f"/v25.0/{WABA}/phone_numbers"
    send_path = prefix or f"/v25.0/{PHONE}/messages"
    auth = f"Authorization: Bearer {token}\r\nHost: {host}\r\n".encode()
    read = f"GET {read_path} HTTP/1.1\r\n".encode() + auth + b"\r\n"
    send = (f"POST {send_path} HTTP/1.1\r\n".encode() + auth + b"Content-Type: application/json\r\n"
            + f"Content-Length: {len(send_body)}\r\n\r\n".encode() + send_body)
    return [send if i % 3 == 2 else read for i in range(count)]


async def _connection(host: str, port: int, queue: list[bytes], latencies: list[float], statuses: dict,
                      deadline: float) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while queue and time.perf_counter() < deadline:
            request = queue.pop()
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length:\s*(\d+)", head)
            body = await reader.readexactly(int(length.group(1))) if length else b""
            latencies.append(time.perf_counter() - started)
            status = int(head[9:12])
            key = status if status == 200 else f"{status} {json.loads(body)['error']['code']}"
            statuses[key] = statuses.get(key, 0) + 1
    finally:
        writer.close()


async def _load(url: str, requests: list[bytes], connections: int) -> dict:
    host, port = url.split("//")[1].split(":")
    queue = list(reversed(requests))
    latencies: list[float] = []
    statuses: dict = {}
    started = time.perf_counter()
    await asyncio.gather(*(_connection(host, int(port), queue, latencies, statuses, started + TIME_LIMIT)
                           for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {"requests": len(latencies), "seconds": elapsed, "per_second": len(latencies) / elapsed,
            "p50_ms": pick(0.5), "p99_ms": pick(0.99), "statuses": statuses}


def measure(url: str, token: str, count: int, connections: int, prefix: str | None) -> dict:
    host = url.split("//")[1]
    asyncio.run(_load(url, build_requests(host, token, 300, prefix), connections))  # warm-up
    return asyncio.run(_load(url, build_requests(host, token, count, prefix), connections))


def serve(port: int) -> None:
    """The server side: the sandbox's own application, plus the no-op route in front of its catch-all."""
    import tornado.routing
    import tornado.web

    from helpers.serving import serve_forever
    from helpers.sandbox.server import make_app
    from helpers.sandbox.service import SandboxService

    class Noop(tornado.web.RequestHandler):
        def get(self) -> None:
            self.finish("{}")

        post = get

    service = SandboxService()
    app = make_app(service)
    app.wildcard_router.rules.insert(0, tornado.routing.Rule(tornado.routing.PathMatches(NOOP_PATH), Noop))
    serve_forever(app, "127.0.0.1", port, on_start=service.on_start, on_stop=service.on_stop,
                  banner=lambda url: print(f"sandbox at {url}", flush=True))


def report(name: str, result: dict) -> None:
    print(f"{name:<8} {result['requests']:>6} requests in {result['seconds']:5.2f} s = {result['per_second']:7.0f} req/s;"
          f" latency p50 {result['p50_ms']:5.1f} ms, p99 {result['p99_ms']:5.1f} ms; responses {result['statuses']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return 0

    token = Seed().demo_env()["WHATSAPP_TOKEN"]  # a sandbox-only fake value
    process = subprocess.Popen([sys.executable, __file__, "--serve", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    try:
        match = URL_IN_BANNER.search(process.stdout.readline())
        if not match:
            raise SystemExit("the sandbox did not start")
        url = match.group(1)
        print(f"{os.cpu_count()} CPUs; {args.requests} requests (2 phone_numbers reads : 1 template send) over "
              f"{args.connections} keep-alive connections to {url}")
        noop = measure(url, token, args.requests, args.connections, NOOP_PATH)
        graph = measure(url, token, args.requests, args.connections, None)
    finally:
        process.terminate()
        process.wait(10)
    report("no-op", noop)
    report("sandbox", graph)
    print(f"sandbox / no-op throughput: {graph['per_second'] / noop['per_second']:.2f}")
    ok = graph["per_second"] >= 1000
    print("target (>= 1,000 Graph requests/s):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
