"""The OA side of fault and load runs: an idempotent webhook receiver in a process of its own.

It applies each event once, as the contract asks: a ``webhook-id`` it has applied before is answered 200
and not applied again. It counts, per event id, the deliveries that arrived and the effects applied, and
also the effects per *content* (type, subject and data): two different ids carrying the same change would
be the same business effect twice, which no receiver could recognise. ``delay`` makes it slow (the load run
uses an OA that answers in 2 s).
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _serve(port_out, control, delay: float) -> None:
    arrivals: Counter[str] = Counter()
    effects: Counter[str] = Counter()
    contents: Counter[str] = Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real OA would
        wbufsize = 64 * 1024
        disable_nagle_algorithm = True

        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            webhook_id = self.headers.get("webhook-id", "")
            if delay:
                time.sleep(delay)
            with lock:  # check and apply in one step, as a database unique key would
                arrivals[webhook_id] += 1
                if webhook_id not in effects:
                    effects[webhook_id] += 1
                    document = json.loads(body)
                    key = json.dumps([document["type"], document["subject"], document["data"]], sort_keys=True)
                    contents[key] += 1
            try:
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:  # the sender is gone (a drop, a reset, a kill): what was applied stays applied
                self.close_connection = True

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 256
        daemon_threads = True

        def handle_error(self, request, client_address):
            if not isinstance(sys.exc_info()[1], ConnectionError):  # a sender that reset: expected here
                super().handle_error(request, client_address)

    server = Server(("127.0.0.1", 0), Handler)
    port_out.send(server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    while True:
        command = control.recv()
        with lock:
            if command == "count":
                control.send(len(effects))
            elif command == "take":
                control.send(
                    {
                        "arrivals": dict(arrivals),
                        "effects": dict(effects),
                        "content_duplicates": sum(n - 1 for n in contents.values()),
                    }
                )
                arrivals.clear()
                effects.clear()
                contents.clear()
            elif command == "stop":
                server.shutdown()
                control.send("stopped")
                return


class Receiver:
    def __init__(self, delay: float = 0.0):
        port_parent, port_child = multiprocessing.Pipe()
        self.control, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_serve, args=(port_child, child, delay), daemon=True)
        self.process.start()
        self.port = port_parent.recv()
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def ask(self, command: str):
        self.control.send(command)
        return self.control.recv()

    def stop(self) -> None:
        if self.process.is_alive():
            self.ask("stop")
        self.process.join(timeout=5)
