"""A fault-injecting HTTP proxy between the project and the test S3 server (moto_server).

It forwards every request to the server unless its seeded schedule says otherwise. For each request
it draws once from ``random.Random(seed)`` and, with the given rates:

- ``slowdown``: answers ``503 SlowDown`` without forwarding;
- ``internal``: answers ``500 InternalError`` without forwarding;
- ``reset``: closes the connection (TCP RST) without forwarding or answering;
- ``delay``: waits ``delay_seconds`` and then forwards;
- ``lost_response`` (conditional writes only: a PUT with ``If-None-Match`` or ``If-Match``, at
  ``conditional_rate``): forwards the request and, when the write landed (2xx), resets the
  connection instead of passing the answer on: the client cannot know that its write landed.

``permanent`` (``(status, code)``) instead answers every request with that error (wrong keys,
``AccessDenied``, ``NoSuchBucket``). :attr:`FaultProxy.counts` holds what happened, by kind.
Standard library only; runs in a thread of the test process (:meth:`FaultProxy.start`).
"""

from __future__ import annotations

import http.client
import random
import socket
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

KINDS = ("slowdown", "internal", "reset", "delay")
_ERRORS = {
    "slowdown": (503, "SlowDown", "Please reduce your request rate."),
    "internal": (500, "InternalError", "We encountered an internal error. Please try again."),
}


class FaultProxy:
    """Forward to ``upstream`` (``http://host:port``), injecting faults by a seeded schedule."""

    def __init__(
        self,
        upstream: str,
        *,
        seed: int = 0,
        rate: float = 0.0,
        conditional_rate: float = 0.0,
        delay_seconds: float = 0.5,
        permanent: tuple[int, str] | None = None,
    ) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rate, self.conditional_rate, self.delay_seconds = rate, conditional_rate, delay_seconds
        self.permanent = permanent
        self.random = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self.lost: list[str] = []  #: "METHOD path" of each conditional write whose answer was dropped
        self.enabled = True
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FaultProxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def decide(self, method: str, path: str, headers) -> str | None:
        """The fault for one request (``None``: forward it untouched), counted."""
        conditional = method == "PUT" and ("If-None-Match" in headers or "If-Match" in headers)
        with self.lock:
            self.counts["requests"] += 1
            if conditional:
                self.counts["conditional_writes"] += 1
            if not self.enabled or path.startswith("/moto-api"):
                return None
            if self.permanent:
                self.counts["permanent"] += 1
                return "permanent"
            draw = self.random.random()
            if conditional and draw < self.conditional_rate:
                return "lost_response"  # counted once the write is known to have landed
            draw = self.random.random()
            if draw < self.rate:
                kind = KINDS[int(draw / self.rate * len(KINDS)) % len(KINDS)]
                self.counts[kind] += 1
                return kind
        return None


def _reset(handler: BaseHTTPRequestHandler) -> None:
    """Close the client's connection with a TCP RST, answering nothing."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.close_connection = True
    handler.connection.close()


def _handler(proxy: FaultProxy):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _answer_error(self, status: int, code: str, message: str) -> None:
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
                "<RequestId>fault-proxy</RequestId></Error>"
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _handle(self) -> None:
            body = self._body()
            fault = proxy.decide(self.command, self.path, self.headers)
            if fault == "permanent":
                status, code = proxy.permanent or (500, "InternalError")
                return self._answer_error(status, code, f"fault proxy: {code}")
            if fault in _ERRORS:
                return self._answer_error(*_ERRORS[fault])
            if fault == "reset":
                return _reset(self)
            if fault == "delay":
                time.sleep(proxy.delay_seconds)
            upstream = http.client.HTTPConnection(*proxy.upstream, timeout=60)
            try:
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("transfer-encoding", "connection")
                }
                if body or self.command in ("PUT", "POST"):
                    headers["Content-Length"] = str(len(body))
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
            finally:
                upstream.close()
            if fault == "lost_response" and response.status < 300:  # it landed: the client never hears so
                with proxy.lock:
                    proxy.counts["lost_response"] += 1
                    proxy.lost.append(f"{self.command} {self.path}")
                return _reset(self)
            self.send_response_only(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in ("transfer-encoding", "connection", "content-length", "date", "server"):
                    self.send_header(name, value)
            self.send_header(
                "Content-Length",
                str(len(data)) if self.command != "HEAD" else response.getheader("Content-Length", "0"),
            )
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

    return Handler
