"""Run a tornado application on loopback: in the foreground (CLI) or on a background thread.

The sandbox and the webhook receiver both use this, so tests, notebooks and the batch
runner can start either one in-process on a free port and stop it cleanly.
"""
from __future__ import annotations

import asyncio
import signal
import socket
import threading
from typing import Awaitable, Callable

import tornado.httpserver
import tornado.netutil
import tornado.web

from .i18n import _

MAX_BODY_BYTES = 8 * 1024 * 1024


def _make_server(app: tornado.web.Application, max_body_size: int) -> tornado.httpserver.HTTPServer:
    return tornado.httpserver.HTTPServer(app, max_body_size=max_body_size, xheaders=False)


def url_for(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class BackgroundServer:
    """A tornado application served on its own thread and event loop.

    >>> server = BackgroundServer(app).start()   # port 0 picks a free port
    >>> server.url                               # 'http://127.0.0.1:54321'
    >>> server.stop()
    """

    def __init__(
        self,
        app: tornado.web.Application,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_body_size: int = MAX_BODY_BYTES,
        on_start: Callable[[], Awaitable[None] | None] | None = None,
        on_stop: Callable[[], Awaitable[None] | None] | None = None,
        name: str = "server",
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._max_body_size = max_body_size
        self._on_start = on_start
        self._on_stop = on_stop
        self._name = name
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: tornado.httpserver.HTTPServer | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return url_for(self.host, self.port)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None, "server not started"
        return self._loop

    def start(self, timeout: float = 10.0) -> "BackgroundServer":
        # Bind in the caller's thread so a port clash raises here, not in the thread.
        sockets = tornado.netutil.bind_sockets(self.port, self.host, family=socket.AF_INET if ":" not in self.host else socket.AF_INET6)
        self.port = sockets[0].getsockname()[1]
        self._thread = threading.Thread(target=self._run, args=(sockets,), name=self._name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(_("{server} did not start within {seconds} s").format(server=self._name, seconds=timeout))
        if self._error is not None:
            raise RuntimeError(_("{server} failed to start: {error}").format(server=self._name, error=self._error)) \
                from self._error
        return self

    def _run(self, sockets) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            self._server = _make_server(self.app, self._max_body_size)
            self._server.add_sockets(sockets)
            if self._on_start is not None:
                result = self._on_start()
                if asyncio.iscoroutine(result):
                    loop.run_until_complete(result)
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._shutdown())
            loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.stop()
            try:
                await asyncio.wait_for(self._server.close_all_connections(), timeout=2)
            except asyncio.TimeoutError:
                pass
        if self._on_stop is not None:
            result = self._on_stop()
            if asyncio.iscoroutine(result):
                await result

    def call(self, fn: Callable, *args, timeout: float = 10.0):
        """Run fn(*args) on the server's loop and return its result (awaiting coroutines)."""
        async def runner():
            result = fn(*args)
            if asyncio.iscoroutine(result):
                result = await result
            return result
        return asyncio.run_coroutine_threadsafe(runner(), self.loop).result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is None or self._thread is None:
            return
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> "BackgroundServer":
        return self.start() if self._thread is None else self

    def __exit__(self, *exc) -> None:
        self.stop()


def serve_forever(
    app: tornado.web.Application,
    host: str,
    port: int,
    *,
    banner: Callable[[str], None] | None = None,
    max_body_size: int = MAX_BODY_BYTES,
    on_start: Callable[[], Awaitable[None] | None] | None = None,
    on_stop: Callable[[], Awaitable[None] | None] | None = None,
) -> None:
    """Serve in the foreground until SIGINT/SIGTERM (the CLI's `sandbox` and `webhooks serve`)."""
    async def main() -> None:
        sockets = tornado.netutil.bind_sockets(port, host)
        server = _make_server(app, max_body_size)
        server.add_sockets(sockets)
        if on_start is not None:
            result = on_start()
            if asyncio.iscoroutine(result):
                await result
        if banner is not None:
            banner(url_for(host, sockets[0].getsockname()[1]))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        server.stop()
        if on_stop is not None:
            result = on_stop()
            if asyncio.iscoroutine(result):
                await result

    asyncio.run(main())
