"""A fault-injecting HTTP proxy in front of moto's SES, for the exactly-once tests.

Each SES ``send_email`` request meets one fault: the first requests meet every fault once
(in a seeded order, so however slow the machine, each is met), the rest draw with fixed odds
from a seeded generator; every other request passes untouched:

- ``pass``: forwarded, and the answer relayed;
- ``slow``: forwarded after a pause, then relayed (so a kill can land inside the call);
- ``throttle``: a 429 ``TooManyRequestsException``, not forwarded (a definite refusal);
- ``error_before``: a 500, not forwarded (SES never saw it, the client cannot know);
- ``error_after``: forwarded (SES has it), then a 500;
- ``drop_before``: the connection closed without forwarding;
- ``drop_after``: forwarded (SES has it), then the connection closed without an answer.

The proxy notes which ledger rows reached SES and what each request met, and counts the
calls in flight, so a test can tell that a kill landed inside a provider call.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SEND_PATH = "/v2/email/outbound-emails"
DEFAULT_ODDS = {
    "pass": 0.62,
    "slow": 0.20,
    "throttle": 0.08,
    "error_before": 0.02,
    "error_after": 0.03,
    "drop_before": 0.02,
    "drop_after": 0.03,
}


class FaultProxy:
    """``with FaultProxy(moto_url) as proxy:`` then point ``AWS_ENDPOINT_URL`` at ``proxy.url``."""

    def __init__(self, upstream: str, *, odds: dict[str, float] | None = None, seed: int = 7):
        self.upstream = urllib.parse.urlparse(upstream)
        self.odds = dict(odds or DEFAULT_ODDS)
        self.random = random.Random(seed)
        self.first = self.random.sample(list(self.odds), len(self.odds))
        self.lock = threading.Lock()
        self.met: Counter[str] = Counter()
        self.in_flight = 0
        self.calls = 0  # send calls begun
        self.slow_seconds = 0.15
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                proxy.handle(self)

            def do_GET(self) -> None:
                proxy.handle(self)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client killed mid-call, or a connection dropped on purpose

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def set_odds(self, odds: dict[str, float]) -> None:
        with self.lock:
            self.odds = dict(odds)
            self.first = []

    def _draw(self) -> str:
        with self.lock:
            if self.first:
                return self.first.pop()
            faults, weights = zip(*self.odds.items(), strict=True)
            return self.random.choices(faults, weights)[0]

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, Any, bytes]:
        connection = http.client.HTTPConnection(
            self.upstream.hostname, self.upstream.port, timeout=30
        )
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() != "host"}
            connection.request(handler.command, handler.path, body=body, headers=headers)
            answer = connection.getresponse()
            return answer.status, answer.getheaders(), answer.read()
        finally:
            connection.close()

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, headers: Any, body: bytes) -> None:
        handler.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "date"):
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    @staticmethod
    def _error(handler: BaseHTTPRequestHandler, status: int, code: str) -> None:
        body = json.dumps({"__type": code, "message": f"injected {code}"}).encode()
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)]
        FaultProxy._reply(handler, status, headers, body)

    @staticmethod
    def _drop(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        handler.connection.close()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        if handler.command != "POST" or not handler.path.startswith(SEND_PATH):
            self._reply(handler, *self._forward(handler, body))
            return
        fault = self._draw()
        with self.lock:
            self.met[fault] += 1
            self.in_flight += 1
            self.calls += 1
        try:
            if fault == "throttle":
                self._error(handler, 429, "TooManyRequestsException")
            elif fault == "error_before":
                self._error(handler, 500, "InternalFailure")
            elif fault == "drop_before":
                self._drop(handler)
            else:
                if fault == "slow":
                    time.sleep(self.slow_seconds)
                answer = self._forward(handler, body)
                if fault == "error_after":
                    self._error(handler, 500, "InternalFailure")
                elif fault == "drop_after":
                    self._drop(handler)
                else:
                    self._reply(handler, *answer)
        finally:
            with self.lock:
                self.in_flight -= 1
