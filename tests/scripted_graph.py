"""A tiny Graph stand-in whose answers each test scripts, for client behaviour the sandbox
does not produce on demand (transient errors, Retry-After, slow responses, odd bodies).

Requests are recorded so tests can assert what went over the wire.
"""
from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import tornado.web

from helpers.serving import BackgroundServer


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=lambda: {"success": True})
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (for client timeouts)
    raw: bytes | None = None  # send these bytes instead of JSON


@dataclass
class Seen:
    method: str
    uri: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class _Handler(tornado.web.RequestHandler):
    def initialize(self, script: "ScriptedGraph") -> None:
        self.script = script

    async def _answer(self, _path: str) -> None:
        req = self.request
        self.script.seen.append(Seen(req.method, req.uri, req.path,
                                     {k: [v.decode() for v in vs] for k, vs in req.query_arguments.items()},
                                     dict(req.headers), req.body))
        reply = self.script.next_reply(req.path)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        self.set_status(reply.status)
        for name, value in reply.headers.items():
            self.set_header(name, value)
        if reply.raw is not None:
            self.write(reply.raw)
        else:
            self.set_header("Content-Type", "application/json")
            self.write(json.dumps(reply.body))

    get = post = delete = _answer


class ScriptedGraph:
    """Serve queued replies per path suffix; fall back to `default`."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self._queues: dict[str, deque[Reply]] = {}
        self.default = Reply()
        app = tornado.web.Application([(r"(/.*)", _Handler, {"script": self})])
        self.server = BackgroundServer(app, name="scripted-graph")

    @property
    def url(self) -> str:
        return self.server.url

    def queue(self, path_suffix: str, *replies: Reply) -> None:
        self._queues.setdefault(path_suffix, deque()).extend(replies)

    def next_reply(self, path: str) -> Reply:
        for suffix, replies in self._queues.items():
            if path.endswith(suffix) and replies:
                return replies.popleft()
        return self.default

    def start(self) -> "ScriptedGraph":
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()


def graph_error(code: int, message: str = "scripted error", *, subcode: int | None = None, status: int = 400,
                details: Any = "scripted details", headers: dict[str, str] | None = None) -> Reply:
    error: dict[str, Any] = {"message": f"(#{code}) {message}", "type": "OAuthException", "code": code,
                             "error_data": {"messaging_product": "whatsapp", "details": details},
                             "fbtrace_id": f"TRACE{code}"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return Reply(status=status, body={"error": error}, headers=headers or {})
