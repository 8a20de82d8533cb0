"""helpers.serving: a tornado app on its own thread (BackgroundServer) and in the foreground (serve_forever)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest
import requests
import tornado.web

from helpers.serving import BackgroundServer, url_for


class Hello(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write("hello")


def app() -> tornado.web.Application:
    return tornado.web.Application([(r"/", Hello)])


def test_serves_on_a_free_port_runs_hooks_and_stops():
    events = []

    async def on_stop():
        events.append("stop")

    server = BackgroundServer(app(), on_start=lambda: events.append("start"), on_stop=on_stop).start()
    try:
        assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}"
        assert requests.get(server.url, timeout=5).text == "hello"
        assert server.call(lambda: 40 + 2) == 42  # runs on the server's own loop
    finally:
        server.stop()
    assert events == ["start", "stop"]
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url, timeout=2)


def test_a_taken_port_fails_in_the_callers_thread():
    with BackgroundServer(app()) as first:
        with pytest.raises(OSError):
            BackgroundServer(app(), port=first.port).start()


def test_a_failing_start_hook_is_reported_by_start():
    def broken():
        raise ValueError("no database")

    with pytest.raises(RuntimeError, match="failed to start: no database"):
        BackgroundServer(app(), on_start=broken).start()


def test_url_for_brackets_ipv6():
    assert url_for("::1", 80) == "http://[::1]:80" and url_for("127.0.0.1", 80) == "http://127.0.0.1:80"


def test_serve_forever_prints_its_banner_and_stops_on_sigterm(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    script = textwrap.dedent(f"""
        import tornado.web
        from helpers.serving import serve_forever
        class Hello(tornado.web.RequestHandler):
            def get(self): self.write("hi")
        serve_forever(tornado.web.Application([(r"/", Hello)]), "127.0.0.1", {port},
                      banner=lambda url: print("serving", url, flush=True), on_stop=lambda: print("stopped", flush=True))
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == f"serving http://127.0.0.1:{port}"
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).text == "hi"
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stdout.read().strip() == "stopped"
    finally:
        if process.poll() is None:
            process.kill()
