"""How fast do the archive's pages answer on a large archive?

    .venv/bin/python bench/archive_pages.py                     # both databases, 10,000 links
    .venv/bin/python bench/archive_pages.py --database sqlite --links 2000 --requests 20

Builds one newsletter whose archive holds --links links (monthly issues of
five sections of ten links, going back from this month; titles, commentary
and intros drawn from a vocabulary with a long tail, so a few words are in
thousands of links and one word is in a single link's commentary; 300
sources, a few of them linked often; readers' and scanners' clicks on the
last three years' links), all with bulk inserts, on a fresh PostgreSQL
database (lp_bench_archive, dropped at the end) and on a fresh SQLite file
under var/bench-archive/. Then it asks each page through Django's test
client, in production settings (DEBUG off), and prints the median and 95th
percentile per page and database.

The first request to a library page indexes the newest issues of the
archive (the entries search reads, newsletter.library.index): it is timed on
its own, as a new deployment's first reader would meet it, and so is
indexing the rest at once (as `manage.py index_archive` does). PostgreSQL's
statistics and visibility map are then brought up to date (VACUUM ANALYZE,
as autovacuum soon does after bulk inserts; SQLite's embedded default runs
without). Then every
page is asked in turn, --requests times each, after two rounds that are not
counted. Link pages are asked for a different link each time.

Each database runs in a process of its own (the settings are per process);
results go to bench/results/archive_pages-*.json.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from statistics import median, quantiles

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402

DATABASE = "lp_bench_archive"
SQLITE_DIR = ROOT / "var" / "bench-archive"
SLUG = "bench-notes"
LINKS_PER_SECTION = 10
SECTIONS = ("What I made", "From the internet", "Research", "Learn", "Tools")
RARE = "quasiperiodic"  # in one link's commentary, and nowhere else


def environment(database: str) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "False",
        "SECRET_KEY": f"bench-{uuid.uuid4().hex}{uuid.uuid4().hex}",
        "ALLOWED_HOSTS": "testserver",
        "SITE_URL": "http://testserver",
        "HTTPS": "False",
        "LOG_LEVEL": "WARNING",
        "VAR_DIR": str(SQLITE_DIR),
    }
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    if database == "postgresql":
        env["DATABASE_URL"] = f"{report.POSTGRES}/{DATABASE}"
    return env


# -- the archive ------------------------------------------------------------------------


def vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    """Made-up words, none a stop word, most frequent first."""
    syllables = ["ka", "lo", "mi", "ren", "tas", "vo", "qui", "dor", "pel", "sun", "bra", "ith"]
    words: list[str] = []
    seen = {RARE}
    while len(words) < size:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


class Writer:
    """Words from the vocabulary on a Zipf-like curve: the first few everywhere."""

    def __init__(self, rng: random.Random, words: list[str]):
        self.rng = rng
        self.words = words
        self.weights = [1 / (rank + 1) for rank in range(len(words))]

    def text(self, low: int, high: int) -> str:
        count = self.rng.randint(low, high)
        return " ".join(self.rng.choices(self.words, self.weights, k=count)).capitalize() + "."


def build(links: int, seed: int = 7) -> dict:
    """The newsletter, its issues, sections, links and clicks; what the timed queries need."""
    from django.utils import timezone

    from newsletter.models import Click, Issue, Link, Newsletter, Section, issue_slug

    rng = random.Random(seed)
    words = vocabulary(rng)
    write = Writer(rng, words)
    sites = [f"site{n:03}.example" for n in range(300)]
    site_weights = [1 / (n + 1) ** 0.8 for n in range(300)]
    newsletter = Newsletter.objects.create(
        slug=SLUG,
        name="Bench Notes",
        sender_name="Bench",
        sender_email="bench@example.com",
        postal_address="1 Bench Street",
        time_zone="Europe/London",
    )
    per_issue = len(SECTIONS) * LINKS_PER_SECTION
    count = max(1, links // per_issue)
    now = timezone.now()
    issues = Issue.objects.bulk_create(
        Issue(
            newsletter=newsletter,
            number=n,
            subject=(subject := write.text(3, 6).rstrip(".")),
            slug=issue_slug(n, subject),
            intro=write.text(40, 90),
            status=Issue.Status.SENT,
            sent_at=now - timedelta(days=30 * (count - n)),
        )
        for n in range(1, count + 1)
    )
    sections = Section.objects.bulk_create(
        Section(issue=issue, position=p, title=title)
        for issue in issues
        for p, title in enumerate(SECTIONS)
    )
    rows = []
    for section in sections:
        for p in range(LINKS_PER_SECTION):
            site = rng.choices(sites, site_weights)[0]
            rows.append(
                Link(
                    section=section,
                    position=p,
                    title=write.text(3, 8).rstrip("."),
                    url=f"https://{site}/{section.pk}/{p}",
                    source=site,
                    commentary=write.text(30, 80),
                )
            )
    rows[len(rows) // 3].commentary += f" A {RARE} pattern."
    made = Link.objects.bulk_create(rows, batch_size=2000)
    recent = [link for link in made if link.section.issue.number > count - 36]
    clicks = []
    for link in recent:
        readers = int(10 * rng.paretovariate(1.2)) - 10  # most a few, some hundreds
        clicks += [Click(link=link, kind=Click.Kind.HUMAN)] * min(readers, 2000)
        clicks += [Click(link=link, kind=Click.Kind.SCANNER)] * rng.randint(0, 3)
    Click.objects.bulk_create((Click(link=c.link, kind=c.kind) for c in clicks), batch_size=5000)
    from newsletter.library.popular import sent_issues_by_year

    years = [y for y, ids in sent_issues_by_year(newsletter).items() if y >= now.year - 2]
    return {
        "issues": count,
        "links": len(made),
        "clicks": len(clicks),
        "link_ids": [link.pk for link in made],
        "common": words[0],
        "middling": words[40],
        "top_site": sites[0],
        "middling_site": sites[30],
        "year": years[0],
        "earlier_year": years[-1],
    }


# -- asking the pages ---------------------------------------------------------------------


def pages(world: dict) -> dict[str, str]:
    base = f"/archive/{SLUG}"
    common, middling = world["common"], world["middling"]
    return {
        "archive list": f"{base}/",
        "search: rare word": f"{base}/search/?q={RARE}",
        "search: common word": f"{base}/search/?q={common}",
        "search: common word, page 5": f"{base}/search/?q={common}&page=5",
        "search: two words": f"{base}/search/?q={middling}+{common}",
        "search: common word in a year": f"{base}/search/?q={common}&year={world['year']}",
        "search: word from a source": f"{base}/search/?q={middling}&source={world['top_site']}",
        "search: a source's links": f"{base}/search/?source={world['middling_site']}",
        "link page": f"{base}/links/{{link}}/",
        "sources": f"{base}/sources/",
        "most clicked: latest year": f"{base}/most-clicked/",
        "most clicked: earlier year": f"{base}/most-clicked/?year={world['earlier_year']}",
    }


def timed(client, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{path} answered {response.status_code}")
    return elapsed * 1000


def run_child(database: str, links: int, requests: int) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrated = time.perf_counter()
    world = build(links)
    built = time.perf_counter()
    client = Client()
    rng = random.Random(11)
    asked = pages(world)
    from newsletter.library.index import SYNC_ISSUES, sync
    from newsletter.models import Newsletter

    first = timed(client, asked["archive list"])  # the archive's own page indexes nothing
    first_library = timed(client, asked["sources"])  # indexes the newest SYNC_ISSUES issues
    indexing = time.perf_counter()
    sync(Newsletter.objects.get(slug=SLUG), limit=None)  # the rest, as index_archive does
    index_rest = time.perf_counter() - indexing
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # as autovacuum soon does after bulk inserts
    assert RARE in client.get(asked["search: rare word"]).content.decode()
    times: dict[str, list[float]] = {name: [] for name in asked}
    for round_ in range(requests + 2):
        for name, path in asked.items():
            path = path.format(link=rng.choice(world["link_ids"]))
            elapsed = timed(client, path)
            if round_ >= 2:  # two rounds to warm up
                times[name].append(elapsed)
    connection.close()
    return {
        "database": database,
        "issues": world["issues"],
        "links": world["links"],
        "clicks": world["clicks"],
        "migrate_s": round(migrated - started, 1),
        "build_s": round(built - migrated, 1),
        "first_request_ms": round(first),
        "first_library_request_ms": round(first_library),
        "first_library_request_indexes_issues": SYNC_ISSUES,
        "index_the_rest_s": round(index_rest, 1),
        "pages": {
            name: {"p50_ms": round(median(t), 1), "p95_ms": round(quantiles(t, n=20)[18], 1)}
            for name, t in times.items()
        },
    }


def run(database: str, links: int, requests: int) -> dict:
    if database == "postgresql":
        report.fresh_database(DATABASE)
    else:
        SQLITE_DIR.mkdir(parents=True, exist_ok=True)
        for path in SQLITE_DIR.glob("letterpress.sqlite3*"):
            path.unlink()
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--child", database, "--links", str(links)]
            + ["--requests", str(requests)],
            env=environment(database),
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"{database} run failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        if database == "postgresql":
            report.drop_database(DATABASE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["both", "postgresql", "sqlite"], default="both")
    parser.add_argument("--links", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40, help="timed requests per page")
    parser.add_argument("--child", choices=["postgresql", "sqlite"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, args.links, args.requests)))
        return
    databases = ["postgresql", "sqlite"] if args.database == "both" else [args.database]
    results = [run(database, args.links, args.requests) for database in databases]
    machine = report.machine(report.POSTGRES if "postgresql" in databases else None)
    for result in results:
        rows = [
            (
                "archive",
                f"{result['issues']} issues, {result['links']:,} links, "
                f"{result['clicks']:,} clicks",
            ),
            ("built in", f"{result['build_s']} s (migrate {result['migrate_s']} s)"),
            (
                "first library request",
                f"{result['first_library_request_ms']:,} ms (indexes the newest "
                f"{result['first_library_request_indexes_issues']} issues)",
            ),
            ("indexing the rest", f"{result['index_the_rest_s']} s (manage.py index_archive)"),
        ]
        rows += [
            (name, f"p50 {figures['p50_ms']:6.1f} ms   p95 {figures['p95_ms']:6.1f} ms")
            for name, figures in result["pages"].items()
        ]
        print(
            report.table(
                f"Archive pages on {result['database']}, {args.requests} requests each", rows
            )
        )
        print()
    print(f"load average {report.load_average():.2f}; {machine['cpu']}, {machine['cores']} cores")
    path = report.save(
        "archive_pages", {"machine": machine, "requests": args.requests, "results": results}
    )
    print(f"results: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
