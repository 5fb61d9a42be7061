"""How fast does an issue reach N confirmed readers, end to end?

Plans and sends one issue through a real Celery worker to the loopback fake
ESP (Mailgun API), then prints emails/s, time to the first ESP call, ESP calls,
duplicates and the worker's peak memory. Run it against the production shape:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lp_bench \\
    REDIS_URL=redis://127.0.0.1:6379/5 \\
    .venv/bin/python bench/send_throughput.py --readers 100000 --concurrency 2

The database is created and migrated if needed; the bench's newsletter and
readers are removed afterwards (--keep to leave them). A figure, not a test.
"""

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RUN = uuid.uuid4().hex[:8]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("VAR_DIR", str(ROOT / "var" / "bench"))
os.environ["CELERY_QUEUE"] = f"letterpress-bench-{RUN}"
os.environ["CACHE_PREFIX"] = f"letterpress-bench-{RUN}"
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "False"
os.environ.pop("ESP", None)  # this process only plans; the worker talks to the ESP


def ensure_database(url: str) -> None:
    """CREATE DATABASE for a PostgreSQL URL whose database does not exist yet."""
    if not url.startswith("postgres"):
        return
    import psycopg
    from psycopg import sql

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def rss_peaks(pid: int) -> dict[int, int]:
    """VmHWM (peak resident set, KiB) of a process and its children."""
    peaks = {}
    for proc in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{proc}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[proc] = int(line.split()[1])
        except OSError:
            pass
    return peaks


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def start_worker(esp, concurrency: int, log: Path) -> subprocess.Popen:
    from tests.fake_esp import MAILGUN_KEY

    env = {
        **os.environ,
        "ESP": "mailgun",
        "ANYMAIL_MAILGUN_API_KEY": MAILGUN_KEY,
        "ESP_API_URL": esp.mailgun_url,
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=WARNING"]
    command += [f"--concurrency={concurrency}", "--without-gossip", "--without-mingle"]
    command += ["--without-heartbeat", "-Q", os.environ["CELERY_QUEUE"]]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def wait_for_worker(timeout: float = 60) -> float:
    from django.conf import settings

    from config.celery import ping

    started = time.monotonic()
    marker = uuid.uuid4().hex
    ping.delay(marker)
    while not (Path(settings.VAR_DIR) / "pings" / marker).exists():
        if time.monotonic() - started > timeout:
            sys.exit("The worker did not start; see its log.")
        time.sleep(0.1)
    return time.monotonic() - started


def make_readers(newsletter, count: int) -> None:
    from subscribers.models import Subscriber, Subscription

    chunk = 5000
    for start in range(0, count, chunk):
        subscribers = Subscriber.objects.bulk_create(
            [
                Subscriber(email=f"bench-{RUN}-{n}@example.com")
                for n in range(start, min(count, start + chunk))
            ]
        )
        Subscription.objects.bulk_create(
            [
                Subscription(subscriber=s, newsletter=newsletter, status="confirmed")
                for s in subscribers
            ]
        )


def cleanup(newsletter) -> None:
    from newsletter.models import Issue
    from subscribers.models import Subscriber

    Issue.objects.filter(newsletter=newsletter).delete()
    Subscriber.objects.filter(email__startswith=f"bench-{RUN}-").delete()
    newsletter.delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=1_000_000, help="newsletter.send_rate")
    parser.add_argument("--latency", type=float, default=0.0, help="fake ESP seconds per call")
    parser.add_argument("--keep", action="store_true", help="leave the bench data in place")
    args = parser.parse_args()

    ensure_database(os.getenv("DATABASE_URL", ""))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from newsletter import sending
    from newsletter.models import Issue, Link, Newsletter, Section
    from tests.fake_esp import FakeESP

    call_command("migrate", verbosity=0)
    db = connection.vendor
    broker = "redis" if settings.REDIS_URL else "filesystem"
    print(
        f"database={db} broker={broker} readers={args.readers:,} batch={args.batch_size} "
        f"concurrency={args.concurrency} rate={args.rate:,}/s"
    )

    newsletter = Newsletter.objects.create(
        name="Bench Monthly",
        slug=f"bench-{RUN}",
        sender_name="Bench",
        sender_email="bench@example.com",
        postal_address="1 Example Street",
        batch_size=args.batch_size,
        send_rate=args.rate,
    )
    issue = Issue.objects.create(newsletter=newsletter, number=1, subject="Bench issue")
    section = Section.objects.create(issue=issue, title="Research")
    for n in range(8):
        Link.objects.create(
            section=section,
            title=f"Paper {n}",
            url=f"https://example.org/{n}",
            commentary="A paragraph of commentary, as real issues have. " * 3,
        )
    started = time.monotonic()
    make_readers(newsletter, args.readers)
    print(f"readers created in {time.monotonic() - started:.1f}s")

    esp = FakeESP(keep_bodies=False).start()
    esp.faults.latency = args.latency
    log = Path(settings.VAR_DIR) / f"bench-worker-{RUN}.log"
    worker = start_worker(esp, args.concurrency, log)
    try:
        print(f"worker ready in {wait_for_worker():.1f}s (log: {log})")
        esp.reset()
        peak: dict[int, int] = {}
        t0 = time.monotonic()
        sending.issue_send_now(issue=issue)
        while True:
            issue.refresh_from_db()
            for pid, kib in rss_peaks(worker.pid).items():
                peak[pid] = max(peak.get(pid, 0), kib)
            if issue.status == Issue.Status.SENT or time.monotonic() - t0 > 1800:
                break
            time.sleep(0.2)
        finished = time.monotonic()
        report(args, esp, issue, t0, finished, peak, worker.pid)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        esp.stop()
        if not args.keep:
            cleanup(newsletter)


def report(args, esp, issue, t0, finished, peak, main_pid) -> None:
    from django.db.models import Count

    from newsletter.models import Delivery

    rows = Delivery.objects.filter(issue=issue).values_list("state").order_by()
    states = dict(rows.annotate(n=Count("pk")))
    messages = sum(esp.counts.values())
    end = esp.last_accept_at or finished
    print(f"status            {issue.status}  {states}")
    print(f"first ESP call    {(esp.first_call_at or finished) - t0:.2f}s after 'send now'")
    print(f"planning done     {(issue.planned_at - issue.started_at).total_seconds():.2f}s")
    print(f"last ESP accept   {end - t0:.1f}s")
    print(f"issue sent        {finished - t0:.1f}s (observed, 0.2s polling)")
    print(f"emails/s          {messages / max(end - t0, 1e-9):,.0f}")
    print(f"ESP calls         {esp.calls:,}  (responses {dict(esp.responses)})")
    print(f"messages          {messages:,} to {len(esp.counts):,} recipients")
    print(f"duplicates        {len(esp.duplicates())}")
    pool = {pid: kib for pid, kib in peak.items() if pid != main_pid}
    print(
        f"worker peak RSS   main {peak.get(main_pid, 0) / 1024:.0f} MiB, "
        f"pool max {max(pool.values(), default=0) / 1024:.0f} MiB ({len(pool)} processes)"
    )


if __name__ == "__main__":
    main()
