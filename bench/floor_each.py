"""The floor of the per-reader path (ESPs without a batch API, e.g. Postmark):
the very messages the worker sends, one per reader, built beforehand with the
worker's own code, posted by anymail's backend from the same number of
processes with the same number of requests in flight in each (ESP_CONCURRENCY
threads, one backend and HTTP session per thread). No database, no Celery.

Used by bench/send_throughput.py --esp postmark.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor


def build_messages(rank: int, processes: int, count: int, issue, rendered, address) -> list:
    """This process' share of readers 1..count: each reader's message as the worker
    builds it (delivery n is reader n's, as in ours)."""
    from mail.messages import recipient_values
    from mail.tokens import recipient_key
    from newsletter import emails
    from subscribers.models import Subscriber, Subscription

    built = []
    for n in range(1 + rank, count + 1, processes):
        reader = Subscription(
            pk=n, newsletter=issue.newsletter, subscriber=Subscriber(pk=n, email=address(n))
        )
        values = recipient_values(reader)
        values["recipient_key"] = recipient_key(n)
        message = emails.issue_message(issue, rendered, to=address(n), values=values)
        message.metadata = {"issue": str(issue.pk), "delivery": str(n)}
        built.append(message)
    return built


def send_all(messages: list, in_flight: int, connect) -> None:
    """Post every message, `in_flight` at a time, one open connection per thread."""
    local = threading.local()
    opened = []

    def send(message) -> None:
        if not hasattr(local, "connection"):
            local.connection = connect()
            local.connection.open()
            opened.append(local.connection)
        local.connection.send_messages([message])

    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        for done in pool.map(send, messages):
            del done
    for connection in opened:
        connection.close()


def floor_process(rank, processes, count, in_flight, built, backend, barrier, results):
    """One floor process: build its share, wait for the others, post it; its timings.
    built: (issue, rendered issue, address of reader n)."""
    from django.core.mail import get_connection

    prepared = time.monotonic()
    messages = build_messages(rank, processes, count, *built)
    prepared = time.monotonic() - prepared
    barrier.wait()
    started, cpu = time.monotonic(), time.process_time()
    send_all(messages, in_flight, lambda: get_connection(backend["path"], **backend["options"]))
    cpu = time.process_time() - cpu
    results.put({"rank": rank, "prepare_s": prepared, "started": started, "cpu_s": cpu})
