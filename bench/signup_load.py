"""Signup page latency under a fixed request rate: GET, then POST, through gunicorn.

    .venv/bin/python bench/signup_load.py

gunicorn (sync workers) serves the app on loopback with PostgreSQL and Redis,
DEBUG off, rate limiting off (RATELIMIT_ENABLED=0: the load comes from one IP).
A load generator in this process sends requests at a fixed rate, open loop: each
request has a scheduled start (start + i / rate) and its latency is counted from
that moment, so a server that falls behind shows it in the latency (as wrk2
does) instead of being asked less. Each POST carries a new address, a CSRF
cookie and token fetched once per client thread. A signup enqueues the
confirmation email on Redis; no worker runs (sending it is not what is
measured), and the bench's queue is deleted afterwards.

Why not wrk or locust: wrk is closed-loop, not constant-rate; locust's
constant_throughput wait is per simulated user and closed-loop too, and it
would add a dependency. This generator is a few threads of the standard
library; at 100 requests/s it uses a few percent of a core, which it shares
with the server on this machine (said in the results).

Environment: BENCH_POSTGRES (server URL) and REDIS_URL, as bench/send_throughput.py.
The database lp_bench_signup is dropped at the end. Results go to bench/results/.
"""

import argparse
import http.client
import os
import queue
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from statistics import quantiles
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402

DATABASE = "lp_bench_signup"
PORT = int(os.getenv("BENCH_SIGNUP_PORT", "8202"))
HOST = "127.0.0.1"
RUN = uuid.uuid4().hex[:8]
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SLUG = "field-notes"
PATH = f"/subscribe/{SLUG}/"


def environment(workers: int, database: str = DATABASE) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"{report.POSTGRES}/{database}",
        "REDIS_URL": os.getenv("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "VAR_DIR": str(ROOT / "var" / "bench-signup"),
        "CELERY_QUEUE": f"letterpress-bench-signup-{RUN}",
        "CACHE_PREFIX": f"letterpress-bench-signup-{RUN}",
        "CELERY_TASK_ALWAYS_EAGER": "False",
        "DEBUG": "False",
        "SECRET_KEY": f"bench-{uuid.uuid4().hex}{uuid.uuid4().hex}",
        "ALLOWED_HOSTS": HOST,
        "SITE_URL": f"http://{HOST}:{PORT}",
        "HTTPS": "False",  # plain HTTP on loopback: no redirect to https
        "RATELIMIT_ENABLED": "False",
        "LOG_LEVEL": "WARNING",
        "WEB_CONCURRENCY": str(workers),
    }


def prepare(env: dict, source: Path = ROOT) -> None:
    """A fresh database with the demo newsletter, migrated (by the app in `source`)."""
    report.fresh_database(database_of(env))
    script = (
        "import django; django.setup();"
        "from django.core.management import call_command; call_command('migrate', verbosity=0);"
        "from newsletter.management.commands.seed_demo import NEWSLETTER;"
        "from newsletter.models import Newsletter; Newsletter.objects.create(**NEWSLETTER)"
    )
    subprocess.run([sys.executable, "-c", script], cwd=source, env=env, check=True)


def database_of(env: dict) -> str:
    return env["DATABASE_URL"].rsplit("/", 1)[1]


def start_server(env: dict, workers: int, log: Path, source: Path = ROOT) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"{HOST}:{PORT}"]
    command += ["--workers", str(workers), "--worker-class", "sync", "--log-level", "warning"]
    server = subprocess.Popen(
        command, cwd=source, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    report.wait_until(lambda: request("GET", "/healthz")[0] == 200, timeout=30, what="gunicorn")
    return server


def request(method: str, path: str, body: str = "", cookie: str = "") -> tuple[int, str, str]:
    """(status, body, csrftoken cookie set by the response) over a new connection."""
    connection = http.client.HTTPConnection(HOST, PORT, timeout=10)
    headers = {"Connection": "close"}
    if cookie:
        headers["Cookie"] = f"csrftoken={cookie}"
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        text = response.read().decode()
        set_cookie = response.getheader("Set-Cookie") or ""
        found = re.search(r"csrftoken=([^;]+)", set_cookie)
        return response.status, text, found.group(1) if found else ""
    finally:
        connection.close()


class Client:
    """One generator thread's identity: a CSRF cookie and token, fetched once."""

    def __init__(self):
        status, body, self.cookie = request("GET", PATH)
        self.token = TOKEN.search(body).group(1)

    def signup(self, n: int) -> int:
        form = {
            "email": f"load-{RUN}-{n}@example.com",
            "name": "",
            "website": "",
            "csrfmiddlewaretoken": self.token,
        }
        return request("POST", PATH, urlencode(form), cookie=self.cookie)[0]


def run_phase(method: str, rate: float, duration: float, threads: int) -> dict:
    """Requests at `rate` per second for `duration` seconds; latency from the scheduled start."""
    total = int(rate * duration)
    schedule: queue.Queue = queue.Queue()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    seconds: dict[int, list[float]] = {}  # by second of the schedule: when it went slow
    lock = threading.Lock()
    clients = [Client() for _ in range(threads)] if method == "POST" else [None] * threads
    start = time.monotonic() + 0.5
    for i in range(total):
        schedule.put((i, start + i / rate))

    def work(client: Client | None) -> None:
        while True:
            try:
                i, due = schedule.get_nowait()
            except queue.Empty:
                return
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                status = client.signup(i) if client else request("GET", PATH)[0]
            except OSError:
                status = 0
            done = time.monotonic()
            with lock:
                latencies.append(done - due)
                seconds.setdefault(int(due - start), []).append(done - due)
                statuses[status] = statuses.get(status, 0) + 1

    workers = [threading.Thread(target=work, args=(c,)) for c in clients]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - start
    ms = sorted(x * 1000 for x in latencies)
    cuts = quantiles(ms, n=100, method="inclusive")
    return {
        "method": method,
        "target_rps": rate,
        "requests": total,
        "seconds": round(elapsed, 1),
        "throughput_rps": round(len(ms) / elapsed, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "p50_ms": round(cuts[49], 1),
        "p90_ms": round(cuts[89], 1),
        "p99_ms": round(cuts[98], 1),
        "max_ms": round(ms[-1], 1),
        "max_ms_by_second": [round(max(seconds[k]) * 1000, 1) for k in sorted(seconds)],
    }


def cleanup(env: dict) -> None:
    import redis

    client = redis.Redis.from_url(env["REDIS_URL"])
    for key in client.scan_iter(f"*letterpress-bench-signup-{RUN}*"):
        client.delete(key)
    report.drop_database(database_of(env))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="100", help="requests/s, comma-separated")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per phase")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--threads", type=int, default=16, help="generator threads")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]

    env = environment(args.workers)
    prepare(env)
    log = Path(env["VAR_DIR"]) / f"gunicorn-{RUN}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    server = start_server(env, args.workers, log)
    results = {
        "bench": "signup_load",
        "machine": report.machine(report.POSTGRES, env["REDIS_URL"]),
        "settings": vars(args) | {"server": f"gunicorn, {args.workers} sync workers"},
        "phases": [],
    }
    try:
        run_phase("GET", 20, 3, args.threads)  # warm-up: workers connect to the database
        run_phase("POST", 20, 3, args.threads)
        for rate in rates:
            for method in ("GET", "POST"):
                print(f"{method} {PATH} at {rate:g}/s for {args.duration:g}s ...")
                cpu = report.cpu_snapshot()
                phase = run_phase(method, rate, args.duration, args.threads)
                groups = {"gunicorn": {server.pid, *report.children(server.pid)}}
                groups["generator"] = {os.getpid()}
                phase["cpu_seconds"] = report.cpu_used(cpu, report.cpu_snapshot(), groups)
                results["phases"].append(phase)
    finally:
        report.stop(server)
        cleanup(env)
    rows = [
        (
            f"{p['method']} at {p['target_rps']:g}/s",
            f"{p['throughput_rps']:.1f} req/s, p50 {p['p50_ms']:.1f} ms, p90 {p['p90_ms']:.1f} ms,"
            f" p99 {p['p99_ms']:.1f} ms, max {p['max_ms']:.1f} ms, {p['statuses']}",
        )
        for p in results["phases"]
    ]
    rows.append(report.machine_row(results["machine"]))
    print()
    print(report.table(f"Signup page, gunicorn with {args.workers} sync workers", rows))
    print(f"\n{report.save('signup_load', results)}")


if __name__ == "__main__":
    main()
