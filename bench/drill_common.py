"""What the reliability drills share: an own Redis server that can be restarted,
a PostgreSQL database bulk-loaded with COPY, a real Celery worker that can be
SIGKILLed, the fake ESP (Mailgun API) counting what it received, the sweeper
run as beat would, and the report (a table on stdout, JSON under bench/results/).

The drill process plans nothing itself: it presses "send now", runs the sweeper
every few seconds with shortened thresholds, and does the damage.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
RUN = uuid.uuid4().hex[:8]
sys.path.insert(0, str(ROOT))

# Tasks may run this long (the sweeper calls `sending` rows older than this plus
# a margin lost). Short for the drills, so a killed worker's rows settle soon.
TASK_TIME_LIMIT = 60


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=2000, help="newsletter.send_rate (per second)")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/lp_drills")
    parser.add_argument("--redis-port", type=int, default=6390, help="the drill's own Redis")
    parser.add_argument("--redis-db", type=int, default=7)
    parser.add_argument("--esp-timeout", type=float, default=5.0, help="client read timeout (s)")
    parser.add_argument(
        "--esp",
        choices=["mailgun", "postmark"],
        default="mailgun",
        help="postmark: the per-reader path, ESP_CONCURRENCY requests in flight per process",
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="the fake ESP's answer delay (s)"
    )
    parser.add_argument("--sweep-every", type=float, default=5.0, help="seconds between sweeps")
    parser.add_argument(
        "--lost-after", type=float, default=15.0, help="sweeper: seconds without progress"
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--max-minutes", type=float, default=30.0)
    return parser


def configure(args) -> None:
    """Environment for this process and the worker, then django.setup()."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DEBUG"] = "1"  # a development run: the development key, plain-HTTP links
    os.environ.setdefault("VAR_DIR", str(ROOT / "var" / "drills"))
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{args.redis_port}/{args.redis_db}"
    os.environ["CELERY_QUEUE"] = f"letterpress-drill-{RUN}"
    os.environ["CACHE_PREFIX"] = f"letterpress-drill-{RUN}"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "False"
    os.environ["CELERY_TASK_TIME_LIMIT"] = str(TASK_TIME_LIMIT)
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["TEST_ESP_TIMEOUT"] = str(args.esp_timeout)  # read by tests.helpers.Worker
    os.environ.pop("ESP", None)  # this process only presses "send now" and sweeps
    ensure_database(args.database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


# -- The drill's own Redis ---------------------------------------------------------------


class OwnRedis:
    """A redis-server of our own (no persistence: a restart loses every queued task)."""

    def __init__(self, port: int, log: Path):
        self.port, self.log = port, log
        self.process: subprocess.Popen | None = None

    def start(self) -> OwnRedis:
        if _listening(self.port):
            sys.exit(f"Port {self.port} is taken; pick another with --redis-port.")
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            command, stdout=self.log.open("ab"), stderr=subprocess.STDOUT
        )
        _wait(lambda: _listening(self.port), "redis-server to listen")
        return self

    def restart(self, down: float = 2.0) -> None:
        """SIGKILL, as a crash would; back after `down` seconds with nothing in it."""
        self.stop(signal.SIGKILL)
        time.sleep(down)
        self.start()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=10)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(predicate, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            sys.exit(f"Timed out waiting for {what}.")
        time.sleep(0.05)


# -- The fake ESP, also counting who was in a request that timed out ----------------------


def drill_esp():
    """A FakeESP (keep_bodies off) that also remembers the recipients of the
    requests it accepted and then stalled past the client's timeout."""
    from tests.fake_esp import FakeESP

    class DrillESP(FakeESP):
        def __post_init__(self):
            super().__post_init__()
            self.timed_out: Counter = Counter()  # recipient -> requests that stalled
            self.stalled_calls = 0
            self._fault = threading.local()

        def _decide_fault(self):
            fault = super()._decide_fault()
            self._fault.value = fault
            return fault

        def start(self, port: int = 0):
            super().start(port)
            # A stalled request's client has hung up: the late answer's broken pipe is expected.
            self._server.handle_error = lambda request, client_address: None
            return self

        def _accept(self, messages):
            super()._accept(messages)
            if getattr(self._fault, "value", None) == "timeout":
                with self._lock:
                    self.stalled_calls += 1
                    for message in messages:
                        self.timed_out[message.to] += 1

    return DrillESP(keep_bodies=False)


# -- Data: readers bulk-loaded with COPY ---------------------------------------------------


@dataclass
class Population:
    confirmed: int
    others: int  # pending and unsubscribed: must get nothing


def load_readers(args) -> tuple:
    """A fresh newsletter, issue and readers: the drill's tables are emptied first."""
    from django.db import connection
    from django.utils import timezone

    from newsletter.models import Issue, Link, Newsletter, Section
    from subscribers.models import Subscriber

    others = Subscriber.objects.exclude(email__endswith="@drill.example")
    if Newsletter.objects.exclude(slug="drill").exists() or others.exists():
        sys.exit(
            "This database holds other newsletters or readers, and a drill empties its tables: "
            "give it a database of its own (--database-url)."
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE newsletter_newsletter, subscribers_subscriber, subscribers_suppression "
            "RESTART IDENTITY CASCADE"
        )
    newsletter = Newsletter.objects.create(
        name="Drill Monthly",
        slug="drill",
        sender_name="Drill",
        sender_email="drill@example.com",
        postal_address="1 Example Street, Springfield",
        batch_size=args.batch_size,
        send_rate=args.rate,
    )
    issue = Issue.objects.create(
        newsletter=newsletter, number=1, subject="Drill issue", intro="Hello, readers."
    )
    section = Section.objects.create(issue=issue, title="Research", position=1)
    for n in range(6):
        Link.objects.create(
            section=section,
            position=n,
            title=f"Paper {n}",
            url=f"https://example.org/paper/{n}",
            commentary="Why it is worth your time, in a paragraph of commentary. " * 3,
        )
    others = max(args.readers // 100, 10)
    now = timezone.now()
    statuses = ["confirmed"] * args.readers + ["pending", "unsubscribed"] * (others // 2)
    random.Random(7).shuffle(statuses)  # strangers in the middle of batches, not at the end
    raw = connection.connection
    with raw.cursor() as cursor:
        with cursor.copy(
            "COPY subscribers_subscriber (id, email, name, consent_user_agent, consent_source, "
            "consent_note, created) FROM STDIN"
        ) as cp:
            for n in range(1, len(statuses) + 1):
                cp.write_row((n, f"reader{n}@drill.example", "", "", "drill", "", now))
        with cursor.copy(
            "COPY subscribers_subscription (subscriber_id, newsletter_id, status, created, "
            "confirmed_at, reason, soft_bounces) FROM STDIN"
        ) as cp:
            for n, status in enumerate(statuses, start=1):
                confirmed_at = now if status != "pending" else None
                cp.write_row((n, newsletter.pk, status, now, confirmed_at, "", 0))
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('subscribers_subscriber', 'id'), %s)",
            [len(statuses)],
        )
        cursor.execute("ANALYZE subscribers_subscriber; ANALYZE subscribers_subscription")
    raw.commit()
    return issue, Population(confirmed=args.readers, others=len(statuses) - args.readers)


# -- Running the send ---------------------------------------------------------------------


@dataclass
class Event:
    at: float  # seconds since "send now"
    what: str
    detail: dict = field(default_factory=dict)


class Drill:
    """Presses "send now", sweeps like beat, calls `hooks` each tick, until the issue is sent."""

    def __init__(self, args, issue, esp, worker, redis: OwnRedis):
        self.args, self.issue, self.esp, self.worker, self.redis = args, issue, esp, worker, redis
        self.events: list[Event] = []
        self.sweeps: Counter = Counter()
        self.t0 = 0.0

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def note(self, what: str, **detail) -> None:
        event = Event(round(self.elapsed(), 2), what, detail)
        self.events.append(event)
        print(f"  {event.at:7.1f}s  {what} {detail if detail else ''}", flush=True)

    def sweep(self) -> None:
        from newsletter import sending

        try:
            found = sending.sweep(
                lost_after=timedelta(seconds=self.args.lost_after),
                stuck_after=timedelta(seconds=TASK_TIME_LIMIT + 15),
            )
        except Exception as exc:  # beat would log it and try again next time
            self.note("sweep failed", error=f"{type(exc).__name__}: {exc}"[:200])
            return
        if found:
            self.sweeps.update(found)
            self.note("sweep", **found)

    def run(self, hooks=()) -> float:
        from django.db import connection

        from newsletter import sending
        from newsletter.models import Issue

        self.t0 = time.monotonic()
        sending.issue_send_now(issue=self.issue)
        self.note("send now")
        next_sweep = self.args.sweep_every
        deadline = self.args.max_minutes * 60
        while self.elapsed() < deadline:
            for hook in hooks:
                hook(self)
            if self.elapsed() >= next_sweep:
                self.sweep()
                next_sweep = self.elapsed() + self.args.sweep_every
            status = Issue.objects.filter(pk=self.issue.pk).values_list("status", flat=True)[0]
            if status == Issue.Status.SENT:
                break
            connection.close_if_unusable_or_obsolete()
            time.sleep(0.25)
        else:
            self.note("gave up", minutes=self.args.max_minutes)
        wall = self.elapsed()
        self.note("issue sent" if status == Issue.Status.SENT else f"issue {status}")
        return wall

    def figures(self, population: Population, wall: float, **more) -> dict:
        found = outcome(self.issue, self.esp, population)
        batches = round(found["ambiguous"] / self.args.batch_size, 2)
        return {
            **found,
            "ambiguous, in batches": batches,
            **more,
            **esp_figures(self.esp),
            "wall time (s)": round(wall, 1),
        }

    def report(self, title: str, figures: dict, *, header=None, details=None) -> None:
        """The table on stdout, and everything (with the timeline) as JSON."""
        settings = settings_line(self.args)
        print_table(title, {**settings, **(header or {}), "": "", **figures})
        name = Path(sys.argv[0]).stem
        path = write_json(
            name,
            {
                "settings": settings,
                **(header or {}),
                "seed": self.args.seed,
                "figures": figures,
                **(details or {}),
                "sweeps": dict(self.sweeps),
                "events": self.events,
            },
        )
        print(f"\nwritten to {path.relative_to(ROOT)}")

    def stop(self) -> None:
        self.worker.stop()
        self.esp.stop()
        self.redis.stop()

    def in_flight(self) -> dict[str, int]:
        """Rows held by workers right now: claimed, so handed to the ESP or about to be."""
        from newsletter.models import Delivery

        rows = Delivery.objects.filter(issue=self.issue, state=Delivery.State.SENDING)
        return {"sending": rows.count()}


# -- The report --------------------------------------------------------------------------


def outcome(issue, esp, population: Population) -> dict:
    """What the readers got, from the ESP's side and from the database's."""
    from newsletter.models import Delivery
    from subscribers.models import Subscription

    confirmed = set(
        Subscription.objects.filter(newsletter=issue.newsletter, status="confirmed").values_list(
            "subscriber__email", flat=True
        )
    )
    by_state: dict[str, set[str]] = {state: set() for state in Delivery.State.values}
    failed_without_reason = 0
    for email, state, error in Delivery.objects.filter(issue=issue).values_list(
        "subscriber__email", "state", "error"
    ):
        by_state[state].add(email)
        if state == Delivery.State.FAILED and not error:
            failed_without_reason += 1
    received = set(esp.counts)
    failed = by_state["failed"]
    ambiguous = by_state["ambiguous"]
    return {
        "confirmed readers": len(confirmed),
        "delivered": len(received & confirmed),
        "duplicates": len(esp.duplicates()),
        "ambiguous": len(ambiguous),
        "  of which at the ESP": len(ambiguous & received),
        "failed": len(failed),
        "failed without a reason": failed_without_reason,
        "unaccounted": len(confirmed - received - failed - ambiguous),
        "mailed though not confirmed": len(received - confirmed),
        "recorded sent, not at the ESP": len(by_state["sent"] - received),
        "at the ESP, recorded neither sent nor ambiguous": len(
            received - by_state["sent"] - ambiguous
        ),
        "left planned or sending": len(by_state["planned"] | by_state["sending"]),
        "non-confirmed readers (must get nothing)": population.others,
    }


def esp_figures(esp) -> dict:
    return {
        "ESP calls": esp.calls,
        "ESP responses": {str(k): v for k, v in sorted(esp.responses.items())},
        "messages accepted": sum(esp.counts.values()),
    }


def print_table(title: str, rows: dict) -> None:
    print(f"\n{title}")
    width = max(len(name) for name in rows)
    for name, value in rows.items():
        if isinstance(value, bool):
            shown = "yes" if value else "NO"
        else:
            shown = f"{value:,}" if isinstance(value, int) else value
        print(f"  {name:<{width}}  {shown}")


def write_json(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(data, indent=2, default=_jsonable))
    return path


def _jsonable(value):
    if isinstance(value, Event):
        return asdict(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def settings_line(args) -> dict:
    from django.conf import settings
    from django.db import connection

    return {
        "database": f"{connection.vendor} ({connection.settings_dict['NAME']})",
        "broker": f"own redis-server on port {args.redis_port}, db {args.redis_db}",
        "readers": args.readers,
        "batch size": args.batch_size,
        "send rate": args.rate,
        "worker processes": args.concurrency,
        "ESP": f"{args.esp} API, answering after {args.latency:g} s",
        "ESP client timeout": args.esp_timeout,
        "task time limit": settings.CELERY_TASK_TIME_LIMIT,
        "sweep every": args.sweep_every,
        "sweeper lost_after": args.lost_after,
        "sweeper stuck_after": TASK_TIME_LIMIT + 15,
    }


def prepare(args, name: str) -> tuple[random.Random, Drill, Population]:
    """Seeded randomness, the database and readers, Redis, the ESP and a worker."""
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    args.seed = seed
    print(f"{name}: run {RUN}, seed {seed}")
    configure(args)
    from django.conf import settings

    from tests.helpers import Worker

    started = time.monotonic()
    issue, population = load_readers(args)
    print(
        f"  {population.confirmed + population.others:,} readers loaded with COPY in "
        f"{time.monotonic() - started:.1f}s"
    )
    redis = OwnRedis(args.redis_port, Path(settings.VAR_DIR) / f"{name}-redis-{RUN}.log").start()
    try:
        esp = drill_esp().start()
        esp.faults.latency = args.latency
        worker = Worker(esp, esp_name=args.esp, concurrency=args.concurrency).start()
    except BaseException:
        redis.stop()
        raise
    return random.Random(seed), Drill(args, issue, esp, worker, redis), population
