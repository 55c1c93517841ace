"""Webhooks end to end: a real receiver on 127.0.0.1, the receiver's side of the signature, a
policy that lets the app call loopback, and running the delivery worker's step by hand."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_network
from typing import Any

import asyncpg
import httpx

from resolvers.deliveries import deliver_due
from resolvers.webhooks import WebhookPolicy

LOOPBACK = (ip_network("127.0.0.0/8"),)
# Small numbers so retries and timeouts take milliseconds, not minutes.
TEST_POLICY = WebhookPolicy(
    allowed_networks=LOOPBACK, timeout_seconds=2.0, max_attempts=3, retry_base_seconds=0.05
)
SIGNATURE_TOLERANCE_SECONDS = 300


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    behaviour: str
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    # Workers send up to ten requests at once each: a backlog of 5 would refuse some.
    request_queue_size = 128
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], receiver: Receiver) -> None:
        self.receiver = receiver
        super().__init__(("127.0.0.1", 0), handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Runs in the serving thread, once per accepted connection, in the order of arrival.
        self.receiver._connection_accepted()
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.receiver._connection_done()


class Receiver:
    """An HTTP server on 127.0.0.1 with a free port that records every POST (headers and raw
    body) before answering it as told: `ok` (200), `500`, `429`, `400`, `long` (200 with a 5000
    character body), `redirect` (302 to itself), `slow` (200 after `slow_seconds`),
    `hang` (no answer until closed), or `drop` (close the connection without answering).
    Scripted behaviours are used first, one per request, then `default`."""

    LONG_BODY = "".join(chr(ord("a") + i % 26) for i in range(5000))

    def __init__(self, default: str = "ok") -> None:
        self.default = default
        self.slow_seconds = 0.2
        self.requests: list[Received] = []
        self._script: list[str] = []
        self._changed = threading.Condition()
        self._closing = threading.Event()
        self._accepted = 0
        self._done = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def do_GET(self) -> None:
                # Not a webhook: the barrier of `settled`, answered and not recorded.
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _Server(Handler, self)
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base_url}/hook"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def script(self, *behaviours: str) -> None:
        with self._changed:
            self._script.extend(behaviours)

    def _next_behaviour(self) -> str:
        with self._changed:
            return self._script.pop(0) if self._script else self.default

    def _connection_accepted(self) -> None:
        with self._changed:
            self._accepted += 1

    def _connection_done(self) -> None:
        with self._changed:
            self._done += 1
            self._changed.notify_all()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        behaviour = self._next_behaviour()
        with self._changed:
            self.requests.append(
                Received(
                    path=handler.path,
                    headers={k.lower(): v for k, v in handler.headers.items()},
                    body=body,
                    behaviour=behaviour,
                    at=time.time(),
                )
            )
            self._changed.notify_all()
        if behaviour == "hang":
            self._closing.wait(120)
            return
        if behaviour == "drop":
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if behaviour == "slow":
            time.sleep(self.slow_seconds)
        status, text, extra = {
            "ok": (200, '{"received": true}', {}),
            "slow": (200, "slowly ok", {}),
            "500": (500, "internal trouble", {}),
            "429": (429, "slow down", {"Retry-After": "0"}),
            "400": (400, "bad payload, will never accept it", {}),
            "long": (200, self.LONG_BODY, {}),
            "redirect": (302, "moved", {"Location": self.url + "?redirected=1"}),
        }[behaviour]
        data = text.encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def count(self) -> int:
        with self._changed:
            return len(self.requests)

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        """Blocks (a thread, not the event loop's business) until `count` requests arrived."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
                self._changed.wait(left)
            return list(self.requests)

    def settled(self, timeout: float = 10) -> list[Received]:
        """Every request sent to the receiver so far, each one handled to the end.

        Connections are accepted in the order they arrive: once a request of the receiver's own,
        sent now, has been answered, every connection made before it has been accepted, and what
        is left is to wait for their handlers to finish. Whatever a process that has exited sent
        is then in `requests`. (A request told to `hang` holds this up until the receiver closes.)
        """
        answered = httpx.get(f"{self.base_url}/settled", timeout=timeout)
        assert answered.status_code == 204, answered
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._done < self._accepted:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self._accepted - self._done} request(s) unfinished")
                self._changed.wait(left)
            return list(self.requests)

    def close(self) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()


def verify_signature(
    secret: str, headers: dict[str, str], body: bytes, *, now: float | None = None
) -> bool:
    """The receiver's side, exactly as resolvers/webhooks.py documents it: HMAC-SHA256 of
    "<timestamp>.<raw body>" under the secret, compared in constant time; timestamps more than
    five minutes old are rejected."""
    timestamp = headers.get("x-cairn-timestamp", "")
    signature = headers.get("x-cairn-signature", "")
    if not timestamp.isdigit() or not signature.startswith("sha256="):
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > SIGNATURE_TOLERANCE_SECONDS:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(f"sha256={expected.hexdigest()}", signature)


async def deliver_all(pool: asyncpg.Pool, policy: WebhookPolicy = TEST_POLICY) -> int:
    """Does the delivery worker's work by hand until nothing is due; returns how many attempts
    were made. Each round waits for the answers to its requests, so every request sent has been
    recorded by the receiver when this returns."""
    sent = 0
    async with httpx.AsyncClient(timeout=policy.timeout_seconds) as http:
        while count := await deliver_due(pool, policy, http):
            sent += count
    return sent
