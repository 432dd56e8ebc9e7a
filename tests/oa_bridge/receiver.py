"""A webhook receiver on 127.0.0.1 for delivery tests: records what arrives, answers as scripted,
and applies snapshots idempotently (by webhook-id) and in order (by seq), as the contract asks."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Receiver:
    def __init__(self):
        self.requests: list[dict] = []
        self.script: deque[tuple[int, dict[str, str]]] = deque()  # next answers; default 200
        self.delay = 0.0
        self.applied: dict[str, int] = {}  # subject -> last seq applied
        self.effects = 0  # applications of a new webhook-id
        self.arrivals = 0  # requests that reached the handler, counted before any delay
        self.seen_ids: set[str] = set()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.arrivals += 1
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver.lock:
                    status, headers = receiver.script.popleft() if receiver.script else (200, {})
                    receiver.requests.append(
                        {"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body, "status": status}
                    )
                    if 200 <= status < 300:
                        receiver._apply(self.headers.get("webhook-id"), body)
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the sender gave up (timeout) or died: what was applied stays applied
                    self.close_connection = True

            def log_message(self, *args):
                pass

        return Handler

    def _apply(self, webhook_id: str, body: bytes) -> None:
        if webhook_id in self.seen_ids:
            return
        self.seen_ids.add(webhook_id)
        document = json.loads(body)
        seq = document["data"]["seq"]
        if seq > self.applied.get(document["subject"], 0):
            self.applied[document["subject"]] = seq
        self.effects += 1

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()
