"""A TCP proxy on 127.0.0.1 that misbehaves on purpose, for fault runs (``make faults``) and tests.

It sits between the Celery workers and the OA receiver and, per the faults in force at the moment, adds
latency to every chunk passed on, swallows the receiver's answer and closes the connection (a *drop*: the
request reached the OA, the sender never hears back) or replaces it with a TCP reset (a *reset*, RST via
``SO_LINGER`` 0). Half the resets land before the request is passed on, half after: the sender cannot tell
which, and must send again either way. The faults change on a schedule (seconds from ``start``) or when
``set`` is called. Runs an asyncio loop in a thread of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Faults:
    latency: float = 0.0  # seconds added before each chunk is passed on, either way
    drop: float = 0.0  # chance that an answer is swallowed and the connection closed (FIN)
    reset: float = 0.0  # chance that a connection is reset (RST), before or after the request is passed on
    refuse: bool = False  # every new connection is reset at once (the OA is unreachable)

    def __str__(self) -> str:
        if self.refuse:
            return "refuse"
        return f"latency {self.latency * 1000:.0f} ms, drop {self.drop:.0%}, reset {self.reset:.0%}"


CLEAN = Faults()


class FaultProxy:
    def __init__(self, upstream_port: int, *, schedule: list[tuple[float, Faults]] | None = None, seed: int = 7):
        self.upstream_port = upstream_port
        self.schedule = sorted(schedule or [], key=lambda phase: phase[0])
        self.faults = CLEAN
        self.random = random.Random(seed)
        self.stats: Counter[str] = Counter()
        self.port = 0
        self._started = 0.0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)

    # --- control ---------------------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        self._started = time.monotonic()
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def set(self, faults: Faults) -> None:
        """Use these faults from now on (and forget the rest of the schedule)."""
        self.schedule = []
        self.faults = faults

    def current(self) -> Faults:
        elapsed = time.monotonic() - self._started
        for at, faults in self.schedule:
            if at <= elapsed:
                self.faults = faults
        self.schedule = [(at, f) for at, f in self.schedule if at > elapsed]
        return self.faults

    def stop(self) -> None:
        """Close the listening socket and every connection, then end the loop's thread."""
        if not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    async def _shutdown(self) -> None:
        self._server.close()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0.05)  # the transports' own close callbacks

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    # --- the loop --------------------------------------------------------------------------------------
    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        start = asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=256)
        self._server = self._loop.run_until_complete(start)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    def _chance(self, probability: float) -> bool:
        return probability > 0 and self.random.random() < probability

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            await self._proxy(client_reader, client_writer)
        except asyncio.CancelledError:  # the proxy stops: end quietly, the connection with it
            client_writer.transport.abort()

    async def _proxy(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.stats["connections"] += 1
        faults = self.current()
        if faults.refuse or self._chance(faults.reset / 2):
            self.stats["resets before"] += 1
            _reset(client_writer)
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            self.stats["upstream unreachable"] += 1
            _reset(client_writer)
            return
        done = asyncio.Event()
        await asyncio.gather(
            self._pipe(client_reader, upstream_writer, client_writer, upstream_writer, done, answer=False),
            self._pipe(upstream_reader, client_writer, client_writer, upstream_writer, done, answer=True),
        )

    async def _pipe(self, reader, writer, client_writer, upstream_writer, done: asyncio.Event, *, answer: bool):
        try:
            while not done.is_set():
                chunk = await reader.read(65536)
                if not chunk:
                    break
                faults = self.current()
                if faults.latency:
                    await asyncio.sleep(faults.latency)
                if answer and self._chance(faults.drop):
                    self.stats["drops"] += 1
                    client_writer.close()
                    break
                if answer and self._chance(faults.reset / 2):
                    self.stats["resets after"] += 1
                    _reset(client_writer)
                    break
                writer.write(chunk)
                await writer.drain()
                self.stats["answer chunks" if answer else "request chunks"] += 1
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            done.set()
            for w in (client_writer, upstream_writer):
                if not w.is_closing():
                    w.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset rather than a FIN (linger on, timeout 0)."""
    sock = writer.transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
