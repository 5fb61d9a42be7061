"""Does the signup page answer faster for some address states than for others?

    .venv/bin/python bench/signup_states.py              # 50 POSTs per state
    .venv/bin/python bench/signup_states.py --requests 200 --source DIR

A page that reads the address's state can answer a bounced or a confirmed
address sooner than a new one, and so tell who is on the list even when its
body does not. This bench signs up addresses in every state through a live
gunicorn (PostgreSQL, Redis, DEBUG off, rate limits off: the requests come
from one IP) and prints, per state, the median and 90th percentile of the
POST's latency, and the spread between the states' medians.

One request at a time, each over a new connection, measured from send to last
byte: the service time, not queueing (bench/signup_load.py measures the page
under load). Every request names an address of its own, prepared in its state
beforehand, so a state does not change under the bench (the app before the
signup work moved to the worker created the "new" ones as it went). The states
take turns in a shuffled order each round, so the machine's drift falls on all
of them alike, and "new (control)" is a second set of new addresses: the
spread between it and "new" is what noise alone gives. No worker runs; the
tasks the signups enqueue are deleted with the bench's queue.

--source DIR serves the app from another checkout (e.g. `git archive` of an
older commit) to compare; the bench's own helpers stay these.
Environment: BENCH_POSTGRES and REDIS_URL, as bench/signup_load.py. The
database lp_bench_signup_states is dropped at the end; results go to bench/results/.
"""

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path
from statistics import mean, median, quantiles
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402
from bench import signup_load as load  # noqa: E402

DATABASE = "lp_bench_signup_states"
# Each state and its addresses' prefix; the states after the new ones are stored.
STATES = {
    "new": "new",
    "new (control)": "control",
    **{state: state for state in ("pending", "confirmed", "unsubscribed", "bounced", "complained")},
}

# Run by the app being measured (--source), in its own process: readers in
# every state, as the app stores them. Bounced and complained readers are also
# on the suppression list, as the ESP's reports leave them.
PREPARE_STATES = """
import sys, django; django.setup()
from newsletter.models import Newsletter
from subscribers.addresses import address_hash
from subscribers.models import Subscriber, Subscription, Suppression
states, count = sys.argv[1].split(","), int(sys.argv[2])
newsletter = Newsletter.objects.get(slug="{slug}")
for state in states:
    emails = [f"{{state}}-{{n}}@example.com" for n in range(count)]
    readers = Subscriber.objects.bulk_create([Subscriber(email=e) for e in emails])
    Subscription.objects.bulk_create(
        [Subscription(subscriber=r, newsletter=newsletter, status=state) for r in readers]
    )
    if state in ("bounced", "complained"):
        Suppression.objects.bulk_create(
            [Suppression(email_hash=address_hash(e), reason=state) for e in emails]
        )
"""


def address(state: str, n: int) -> str:
    return f"{STATES[state]}-{n}@example.com"


def prepare_states(env: dict, source: Path, count: int) -> None:
    stored = list(STATES)[2:]
    script = PREPARE_STATES.format(slug=load.SLUG)
    command = [sys.executable, "-c", script, ",".join(stored), str(count)]
    subprocess.run(command, cwd=source, env=env, check=True)


def post(client: load.Client, email: str) -> tuple[int, float]:
    form = {"email": email, "name": "", "website": "", "csrfmiddlewaretoken": client.token}
    started = time.perf_counter()
    status = load.request("POST", load.PATH, urlencode(form), cookie=client.cookie)[0]
    return status, (time.perf_counter() - started) * 1000


def measure(count: int, seed: int) -> tuple[dict[str, list[float]], dict[str, int]]:
    client = load.Client()
    for n in range(20):  # warm-up: connections, templates, code paths
        post(client, f"warm-up-{n}@example.com")
    latencies: dict[str, list[float]] = {state: [] for state in STATES}
    statuses: dict[str, int] = {}
    order = random.Random(seed)
    for n in range(count):
        for state in order.sample(list(STATES), len(STATES)):
            status, ms = post(client, address(state, n))
            latencies[state].append(ms)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
    return latencies, statuses


def summary(latencies: dict[str, list[float]]) -> dict:
    per_state = {
        state: {
            "median_ms": round(median(ms), 2),
            "p90_ms": round(quantiles(ms, n=10, method="inclusive")[8], 2),
            "mean_ms": round(mean(ms), 2),
        }
        for state, ms in latencies.items()
    }
    medians = [v["median_ms"] for k, v in per_state.items() if k != "new (control)"]
    overall = median([x for ms in latencies.values() for x in ms])
    spread = max(medians) - min(medians)
    noise = abs(per_state["new"]["median_ms"] - per_state["new (control)"]["median_ms"])
    return {
        "states": per_state,
        "spread_of_medians_ms": round(spread, 2),
        "spread_percent": round(100 * spread / overall, 1),
        "control_difference_ms": round(noise, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50, help="POSTs per state")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--seed", type=int, default=1, help="the states' order in each round")
    parser.add_argument("--source", type=Path, default=ROOT, help="the app to serve")
    args = parser.parse_args()
    source = args.source.resolve()

    env = load.environment(args.workers, database=DATABASE)
    load.prepare(env, source)
    prepare_states(env, source, args.requests)
    log = Path(env["VAR_DIR"]) / f"gunicorn-states-{load.RUN}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    server = load.start_server(env, args.workers, log, source)
    load_before = report.load_average()
    try:
        latencies, statuses = measure(args.requests, args.seed)
    finally:
        report.stop(server)
        load.cleanup(env)
    results = {
        "bench": "signup_states",
        "machine": report.machine(report.POSTGRES, env["REDIS_URL"]),
        "settings": vars(args) | {"source": str(source), "server": f"gunicorn, {args.workers}"},
        "statuses": statuses,
        "load_average": [load_before, report.load_average()],
        **summary(latencies),
        "latencies_ms": {state: [round(x, 3) for x in ms] for state, ms in latencies.items()},
    }
    rows = [
        (state, f"median {v['median_ms']:6.2f} ms, p90 {v['p90_ms']:6.2f} ms")
        for state, v in results["states"].items()
    ]
    rows.append(
        (
            "spread of medians",
            f"{results['spread_of_medians_ms']:.2f} ms ({results['spread_percent']}% of the"
            f" median); new vs new (control): {results['control_difference_ms']:.2f} ms",
        )
    )
    rows.append(("statuses", str(statuses)))
    rows.append(("load average", "{:.1f} before, {:.1f} after".format(*results["load_average"])))
    rows.append(report.machine_row(results["machine"]))
    title = f"Signup POST by address state, {args.requests} each, gunicorn ({source.name})"
    print(report.table(title, rows))
    print(f"\n{report.save('signup_states', results)}")


if __name__ == "__main__":
    main()
