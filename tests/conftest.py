import os
import signal
import subprocess
import sys
import time
import uuid
from functools import partial
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.fake_esp import MAILGUN_KEY, POSTMARK_TOKEN, FakeESP

ROOT = Path(__file__).resolve().parent.parent


def pytest_report_header(config):
    db = settings.DATABASES["default"]
    engine = db["ENGINE"].rsplit(".", 1)[-1]
    where = f"{db.get('HOST')}:{db.get('PORT')}" if db.get("HOST") else "file under var/test"
    broker = "redis" if settings.REDIS_URL else "filesystem"
    return [f"letterpress: database={engine} ({where}), broker={broker}"]


@pytest.fixture(scope="session")
def fake_esp_server():
    esp = FakeESP().start()
    yield esp
    esp.stop()


@pytest.fixture
def fake_esp(fake_esp_server):
    """The loopback ESP, emptied and without faults for each test."""
    fake_esp_server.reset()
    fake_esp_server.faults.__init__()
    yield fake_esp_server


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """client.post that then runs what the view left for after commit (its emails)."""
    from tests.subscriber_data import post_committed

    return partial(post_committed, client, django_capture_on_commit_callbacks)


@pytest.fixture
def mailgun(settings, fake_esp):
    """Send through anymail's real Mailgun backend to the fake ESP, in this process."""
    settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "MAILGUN_API_KEY": MAILGUN_KEY,
        "MAILGUN_API_URL": fake_esp.mailgun_url,
    }
    return fake_esp


@pytest.fixture
def postmark(settings, fake_esp):
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "POSTMARK_SERVER_TOKEN": POSTMARK_TOKEN,
        "POSTMARK_API_URL": fake_esp.postmark_url,
    }
    return fake_esp


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class Worker:
    """A real `celery -A config worker` process on this test run's queue and database."""

    def __init__(self, esp: FakeESP, esp_name: str = "mailgun", concurrency: int = 2):
        self.env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "VAR_DIR": str(settings.VAR_DIR),
            "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
            "SITE_URL": settings.SITE_URL,
            "ESP": esp_name,
            "ANYMAIL_MAILGUN_API_KEY": MAILGUN_KEY,
            "ANYMAIL_POSTMARK_SERVER_TOKEN": POSTMARK_TOKEN,
            "ESP_API_URL": esp.mailgun_url if esp_name == "mailgun" else esp.postmark_url,
            "ESP_TIMEOUT": os.getenv("TEST_ESP_TIMEOUT", "3"),
            "LOG_LEVEL": "WARNING",
            # Share this run's cache and rate-limit keys (the default prefix has the pid in it).
            "CACHE_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", ""),
            "CELERY_TASK_ALWAYS_EAGER": "False",
        }
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None
        self.log = Path(settings.VAR_DIR) / f"worker-{uuid.uuid4().hex[:8]}.log"

    def start(self) -> "Worker":
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel=WARNING",
                f"--concurrency={self.concurrency}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-Q",
                self.env["CELERY_QUEUE"],
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group, as the OOM killer or a lost machine would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            # The main process alone: it shuts its pool down (a TERM to the whole
            # group kills the pool under it, and its shutdown then hangs).
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def celery_worker(transactional_db, fake_esp):
    """Start a real worker; tests using it see committed data only (transactional_db).

    While it runs, tasks are published to the broker instead of running inline.
    """
    from config.celery import app

    app.conf.task_always_eager = False
    workers: list[Worker] = []

    def start(**kwargs) -> Worker:
        worker = Worker(fake_esp, **kwargs).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
    app.conf.task_always_eager = True


def wait_for(predicate, timeout: float = 60, interval: float = 0.1):
    """Poll until predicate() is truthy; the value, or AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")


# -- real browser (Debian's Chromium, driven by Playwright) --------------------

CHROMIUM = os.getenv("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists() or not AXE.exists():
        message = f"needs {CHROMIUM} and axe-core (apt-get install chromium; npm install)"
        if os.getenv("REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    # Playwright's sync API runs an event loop in this thread; the ORM calls the
    # tests make around it are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


def screenshot(page, name: str) -> Path:
    """Save a full-page PNG under artifacts/screenshots/ (git-ignored)."""
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core in the page; the serious and critical violations."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in impacts
    ]
