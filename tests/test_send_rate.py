"""The send rate: messages per second per newsletter, shared by every worker
(a Redis script when REDIS_URL is set, in-process otherwise)."""

import time
import uuid

import pytest

from newsletter import sending
from newsletter.models import Issue
from newsletter.sending import send_rate
from tests.builders import make_issue, make_newsletter, make_readers


def test_each_reservation_waits_for_the_ones_before_it():
    key = f"test-{uuid.uuid4().hex}"

    waits = [send_rate.reserve(key, count=50, rate=100) for _ in range(4)]

    assert waits[0] == pytest.approx(0, abs=0.05)
    assert waits[1] == pytest.approx(0.5, abs=0.05)
    assert waits[2] == pytest.approx(1.0, abs=0.05)
    assert waits[3] == pytest.approx(1.5, abs=0.05)


def test_newsletters_have_their_own_rate():
    first, second = f"test-{uuid.uuid4().hex}", f"test-{uuid.uuid4().hex}"
    send_rate.reserve(first, count=1000, rate=10)

    assert send_rate.reserve(second, count=1, rate=10) == pytest.approx(0, abs=0.05)
    assert send_rate.reserve(first, count=1, rate=10) == pytest.approx(100, abs=0.1)


@pytest.mark.django_db
def test_a_send_keeps_to_the_newsletters_rate(mailgun):
    newsletter = make_newsletter(slug=f"rate-{uuid.uuid4().hex[:8]}", batch_size=50, send_rate=100)
    make_readers(newsletter, 300)
    issue = make_issue(newsletter)
    Issue.objects.filter(pk=issue.pk).update(status=Issue.Status.SENDING)
    sending.plan_deliveries(issue_id=issue.pk)

    started = time.monotonic()
    for batch in range(1, 7):
        sending.send_batch(issue_id=issue.pk, batch=batch)

    assert mailgun.calls == 6
    # 300 messages at 100/s: the last batch may leave 2.5 s after the first
    # reservation, not sooner. (Counted from the first call's arrival instead,
    # the time spent building that first request made it 2.3 s on a busy machine.)
    assert mailgun.last_accept_at - started >= 2.5
