"""The fault proxy of ``make faults`` (bench/faults/proxy.py) does what its faults say: passes bytes through
unchanged when clean, adds latency, swallows an answer after the request got through (a drop), resets the
connection (RST, not a clean close), refuses, and follows its schedule."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from bench.faults.proxy import CLEAN, FaultProxy, Faults


class Upstream:
    """A line echo server on 127.0.0.1 that counts what reached it."""

    def __init__(self):
        self.received: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn):
        with conn:
            while data := conn.recv(1024):
                self.received.append(data)
                conn.sendall(b"echo:" + data)


@pytest.fixture
def upstream():
    server = Upstream()
    yield server
    server.sock.close()


@pytest.fixture
def proxy_for(upstream):
    started = []

    def make(**options) -> FaultProxy:
        proxy = FaultProxy(upstream.port, **options).start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()


def exchange(port: int, payload: bytes = b"hello") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as conn:
        conn.sendall(payload)
        return conn.recv(1024)


def test_a_clean_proxy_passes_bytes_both_ways(proxy_for, upstream):
    proxy = proxy_for()
    assert exchange(proxy.port) == b"echo:hello"
    assert upstream.received == [b"hello"]


def test_latency_delays_each_way(proxy_for):
    proxy = proxy_for()
    proxy.set(Faults(latency=0.2))
    started = time.monotonic()
    assert exchange(proxy.port) == b"echo:hello"
    assert time.monotonic() - started >= 0.4  # the request and the answer each waited


def test_a_drop_swallows_the_answer_after_the_request_got_through(proxy_for, upstream):
    proxy = proxy_for()
    proxy.set(Faults(drop=1.0))
    assert exchange(proxy.port) == b""  # a clean close, no answer...
    assert upstream.received == [b"hello"]  # ...though the other side got the request
    assert proxy.stats["drops"] == 1


def test_a_reset_is_a_tcp_reset_not_a_close(proxy_for):
    proxy = proxy_for()
    proxy.set(Faults(reset=1.0))
    outcomes = []
    for _ in range(10):
        try:
            outcomes.append(exchange(proxy.port))
        except ConnectionResetError:
            outcomes.append("reset")
    assert outcomes == ["reset"] * 10
    assert proxy.stats["resets before"] + proxy.stats["resets after"] == 10
    assert proxy.stats["resets before"] and proxy.stats["resets after"]  # some before the request, some after


def test_refuse_resets_every_new_connection_before_the_request_goes_anywhere(proxy_for, upstream):
    proxy = proxy_for()
    proxy.set(Faults(refuse=True))
    with pytest.raises(ConnectionResetError):
        exchange(proxy.port)
    assert upstream.received == []


def test_the_schedule_changes_the_faults_over_time(proxy_for):
    proxy = proxy_for(schedule=[(0, Faults(refuse=True)), (0.5, CLEAN)])
    with pytest.raises(ConnectionResetError):
        exchange(proxy.port)
    time.sleep(0.6)
    assert exchange(proxy.port) == b"echo:hello"
    assert str(Faults(latency=0.15, drop=0.1, reset=0.05)) == "latency 150 ms, drop 10%, reset 5%"
