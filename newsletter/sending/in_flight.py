"""Requests in flight: one message per reader handed to the ESP from a few
threads at once, each with its own connection (its own HTTP session, or SMTP
connection) kept open between its requests, so one slow answer does not hold
up the next reader.

Only the ESP call runs in the threads. Claiming and recording stay with the
caller, in its thread and its database connection (Django's are per thread),
in the order the hand-over needs: a row claimed just before its request is
submitted, its outcome recorded as its answer lands.
"""

import sys
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import NamedTuple

from django.core.mail.backends.base import BaseEmailBackend

# How long a thread holds the GIL while another waits for it (CPython's default:
# 5 ms). The caller's database round trips each give the GIL up and wait to get
# it back from the sender threads: at 5 ms, claiming a chunk's rows took 2.5 times
# as long, with a third of the slots idle (bench/send_throughput.py --esp postmark).
GIL_SWITCH_INTERVAL = 0.0002


class Answer(NamedTuple):
    key: Hashable
    message: object
    error: BaseException | None  # None: the ESP took it (message.anymail_status says how)


class InFlight:
    """At most `size` messages at the ESP at once; connect() opens a thread's connection."""

    def __init__(self, size: int, connect: Callable[[], BaseEmailBackend]):
        self.size = size
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL))
        self._connect = connect
        self._local = threading.local()
        self._connections: list[BaseEmailBackend] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="esp")
        self._pending: dict[Future, tuple[Hashable, object]] = {}

    @property
    def busy(self) -> int:
        return len(self._pending)

    def free(self) -> int:
        return self.size - len(self._pending)

    def submit(self, key: Hashable, message) -> None:
        if not self.free():
            raise RuntimeError("No free slot: land an answer first.")
        self._pending[self._pool.submit(self._send, message)] = (key, message)

    def answers(self, *, block: bool, timeout: float | None = None) -> list[Answer]:
        """The answers that have landed; with block, wait for at least one (if any
        is due), or at most `timeout` seconds."""
        if not self._pending:
            return []
        timeout = timeout if block else 0
        done, _ = wait(self._pending, timeout=timeout, return_when=FIRST_COMPLETED)
        return [Answer(*self._pending.pop(future), future.exception()) for future in done]

    def close(self, *, abandon: bool = False) -> None:
        """Close every thread's connection once its requests are answered. abandon:
        do not wait for requests in flight (their outcome stays unknown)."""
        self._pool.shutdown(wait=not abandon, cancel_futures=True)
        if abandon:
            return  # a thread still using its connection closes nothing under it
        for connection in self._connections:
            connection.close()

    def _send(self, message) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connect()  # opened: send_messages() then keeps it open
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        connection.send_messages([message])
