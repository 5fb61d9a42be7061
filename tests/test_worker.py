import uuid

import pytest
from django.conf import settings

from config.celery import ping
from tests.helpers import wait_for

pytestmark = pytest.mark.worker


def test_it_runs_a_task_enqueued_here_in_a_separate_worker_process(celery_worker):
    celery_worker()
    marker = uuid.uuid4().hex
    ping.delay(marker)
    mark = settings.VAR_DIR / "pings" / marker
    assert wait_for(mark.exists, timeout=60)
    assert mark.read_text() == "pong"
