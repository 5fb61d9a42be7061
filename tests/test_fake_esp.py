"""The fake ESP itself: the benches measure through it, so it must not be what they measure."""

import threading
import time

import requests

from tests.fake_esp import POSTMARK_TOKEN

# One Postmark send call: a small body, as a per-reader send makes them.
MESSAGE = {"From": "a@example.com", "To": "reader@example.com", "Subject": "s", "TextBody": "x"}


def test_it_answers_a_kept_alive_connection_without_a_delayed_ack_stall(fake_esp):
    session = requests.Session()
    headers = {"X-Postmark-Server-Token": POSTMARK_TOKEN}
    session.post(f"{fake_esp.postmark_url}email", json=MESSAGE, headers=headers)  # connected

    started = time.perf_counter()
    for _ in range(20):
        answer = session.post(f"{fake_esp.postmark_url}email", json=MESSAGE, headers=headers)
        assert answer.status_code == 200
    elapsed = time.perf_counter() - started

    # An answer written as headers, then body, waits ~40 ms for the client's
    # delayed ACK (Nagle): 20 requests took 0.9 s. Unstalled, a few ms each.
    assert elapsed < 0.4, f"{elapsed / 20 * 1000:.0f} ms a request"
    assert fake_esp.calls == 21


def test_it_counts_the_requests_it_answers_at_once(fake_esp):
    fake_esp.faults.latency = 0.3
    headers = {"X-Postmark-Server-Token": POSTMARK_TOKEN}

    def post():
        requests.post(f"{fake_esp.postmark_url}email", json=MESSAGE, headers=headers, timeout=5)

    threads = [threading.Thread(target=post) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert fake_esp.peak_in_flight == 3
    assert fake_esp.in_flight == 0
    assert fake_esp.stats()["peak_in_flight"] == 3
