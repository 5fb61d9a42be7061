"""`make run` as a newcomer runs it: on a port of their choosing, in a fresh
folder, with no services. Its emails link to the port it serves, a taken port
gets a clear message, and one Ctrl-C (or one SIGTERM to the process runner)
stops web, worker and beat, once each."""

import email
import os
import re
import signal
import socket
import subprocess
import time
from email import policy
from pathlib import Path

import pytest
import requests

from newsletter.management.commands.seed_demo import NEWSLETTER
from tests.helpers import ROOT, wait_for

pytestmark = pytest.mark.runner

STOPPED_WITHIN = 10  # seconds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Run:
    """`make run PORT=…` in its own process group, as a terminal runs it."""

    def __init__(self, var_dir: Path, port: int):
        self.var_dir, self.port = var_dir, port
        var_dir.mkdir()
        self.url = f"http://127.0.0.1:{port}"
        self.log = var_dir / "make-run.log"
        # A newcomer's shell: none of this test run's settings.
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("PYTEST_VERSION", "DATABASE_URL", "REDIS_URL", "SITE_URL", "VAR_DIR")
            and not key.startswith(("CELERY_", "PYTEST_"))
        }
        self.process = subprocess.Popen(
            ["make", "run", f"PORT={port}"],
            cwd=ROOT,
            env={**env, "VAR_DIR": str(var_dir)},
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until_serving(self) -> None:
        def answers() -> bool:
            assert self.process.poll() is None, self.output()
            try:
                return requests.get(f"{self.url}/healthz", timeout=2).ok
            except requests.ConnectionError:
                return False

        wait_for(answers, timeout=120, interval=0.5)
        # The worker and beat say when they are up.
        wait_for(lambda: "ready." in self.output(), timeout=60, interval=0.5)

    def processes(self) -> set[int]:
        """Every process under make: honcho, and web, worker (and its pool), beat."""
        parents = {}
        for entry in Path("/proc").glob("[0-9]*"):
            state = process_state(int(entry.name))
            if state is not None:
                parents[int(entry.name)] = state[1]
        found, frontier = set(), {self.process.pid}
        while frontier:
            children = {pid for pid, parent in parents.items() if parent in frontier}
            found |= children
            frontier = children
        return found | {self.process.pid}

    def stop(self) -> None:
        """Whatever a test left running, by process id."""
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)


def process_state(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) from /proc/<pid>/stat; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    state = process_state(pid)
    return state is not None and state[0] != "Z"


@pytest.fixture
def run(tmp_path):
    started: list[Run] = []

    def start(port: int | None = None) -> Run:
        started.append(Run(tmp_path / f"var-{len(started)}", port or free_port()))
        return started[-1]

    yield start
    for each in started:
        if each.process.poll() is None:
            each.stop()


def signed_up(run: Run, address: str) -> None:
    session = requests.Session()
    page = session.get(f"{run.url}/subscribe/{NEWSLETTER['slug']}/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = session.post(
        page.url,
        data={"csrfmiddlewaretoken": token, "email": address, "name": "Port Reader"},
        headers={"Referer": page.url},
        timeout=10,
    )
    assert answer.ok, answer.text


def confirmation_to(run: Run, address: str):
    def arrived():
        for path in (run.var_dir / "outbox").glob("*.eml"):
            message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            if message["To"] == address:
                return message
        return None

    return wait_for(arrived, timeout=60, interval=0.5)


def stopped(run: Run, pids: set[int]) -> float:
    """Seconds until every one of `pids` is gone; fails after STOPPED_WITHIN."""
    start = time.monotonic()
    wait_for(lambda: not any(alive(pid) for pid in pids), timeout=STOPPED_WITHIN, interval=0.1)
    return time.monotonic() - start


def test_its_emails_link_to_the_port_it_serves_and_ctrl_c_stops_everything(run):
    served = run()
    served.wait_until_serving()
    signed_up(served, "port-reader@example.com")

    message = confirmation_to(served, "port-reader@example.com")
    text = message.get_body(preferencelist=("plain",)).get_content()
    links = re.findall(r"https?://[^\s<>\"]+", text)
    assert any(f"127.0.0.1:{served.port}/confirm/" in link for link in links), links
    assert not any(":8000/" in link for link in links)
    assert requests.get(links[0], timeout=10).ok  # the link works where it points

    # A terminal's Ctrl-C: SIGINT to the whole foreground process group.
    pids = served.processes()
    assert len(pids) >= 5, pids  # make, honcho, web, worker (and its pool), beat
    os.killpg(served.process.pid, signal.SIGINT)
    stopped(served, pids)
    log = served.output()
    assert log.count("shutdown (MainProcess)") == 1, log[-3000:]  # once, not a storm
    assert "exited with 'signal" not in log  # the pool left to the worker
    assert "No hostname was supplied" not in log
    assert "RecursionError" not in log


def test_one_sigterm_to_the_process_runner_stops_everything(run):
    served = run()
    served.wait_until_serving()
    pids = served.processes()
    # honcho itself, make's child (its helper processes, one per program, ignore signals).
    honcho = next(pid for pid in pids if process_state(pid)[1] == served.process.pid)
    assert b"honcho" in Path(f"/proc/{honcho}/cmdline").read_bytes()

    os.kill(honcho, signal.SIGTERM)

    stopped(served, pids)
    assert served.output().count("shutdown (MainProcess)") == 1


def test_a_taken_port_gets_a_clear_message(run):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = run(port)
        assert refused.process.wait(timeout=120) != 0
    assert f"Port {port} on 127.0.0.1 is taken" in refused.output()
    assert f"make run PORT={port + 1}" in refused.output()
