"""Does recognising other tools' exports slow the importer down?

    .venv/bin/python bench/import_formats.py --before DIR      # 100,000 readers
    .venv/bin/python bench/import_formats.py --before DIR --readers 20000

The same readers written twice: in the `email,name,status` format the
importer has always read, and as Mailchimp's "subscribed" export (23 columns,
first and last names, opt-in and confirm times). Three runs, each into a
fresh PostgreSQL database, with `import_subscribers --confirmed`:

- before: the importer of another checkout (--before DIR, e.g. `git archive`
  of the commit before the formats) on the email,name,status file;
- this tree on the same email,name,status file;
- this tree on the Mailchimp file.

Each run migrates its database with its own tree, then times the command
alone (Django's start-up is not counted). Prints the three times side by side
and the Mailchimp run's ratio to "before"; JSON goes to bench/results/.
Environment: BENCH_POSTGRES (server URL), as the other benches. Each run's
database (--database, lp_bench… with the run's number) is dropped after it.
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402

RUN = """
import sys, time, io, django
django.setup()
from django.core.management import call_command
from newsletter.models import Newsletter
call_command("migrate", verbosity=0)
Newsletter.objects.create(name="Bench", slug="bench", sender_name="B",
    sender_email="b@example.com", postal_address="1 Road")
started = time.perf_counter()
out = io.StringIO()
call_command("import_subscribers", sys.argv[1], "--newsletter", "bench", "--confirmed", stdout=out)
print(time.perf_counter() - started)
print(out.getvalue().strip().splitlines()[-1], file=sys.stderr)
"""

MAILCHIMP = (
    "Email Address,First Name,Last Name,Company,Position,ZIP Code,MEMBER_RATING,OPTIN_TIME,"
    "OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,"
    "LAST_CHANGED,LEID,EUID,NOTES,TAGS"
).split(",")


def write_files(folder: Path, readers: int) -> tuple[Path, Path]:
    ours, mailchimp = folder / "ours.csv", folder / "mailchimp.csv"
    with ours.open("w", newline="") as a, mailchimp.open("w", newline="") as b:
        plain, theirs = csv.writer(a), csv.writer(b)
        plain.writerow(["email", "name", "status"])
        theirs.writerow(MAILCHIMP)
        for n in range(readers):
            email, first, last = f"reader{n}@example.com", f"Reader{n}", "Example"
            when = f"2019-{n % 12 + 1:02d}-{n % 28 + 1:02d} 10:{n % 60:02d}:00"
            plain.writerow([email, f"{first} {last}", ""])
            row = dict.fromkeys(MAILCHIMP, "")
            row |= {"Email Address": email, "First Name": first, "Last Name": last}
            row |= {"MEMBER_RATING": "2", "OPTIN_TIME": when, "CONFIRM_TIME": when}
            row |= {"LEID": str(n), "EUID": f"e{n:08x}", "TAGS": '"Readers"'}
            theirs.writerow(row.values())
    return ours, mailchimp


def timed(tree: Path, file: Path, database: str) -> tuple[float, str]:
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": report.fresh_database(database)}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    try:
        done = subprocess.run(
            [sys.executable, "-c", RUN, str(file)],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        report.drop_database(database)
    return float(done.stdout.strip().splitlines()[-1]), done.stderr.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout to compare with")
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument("--database", default="lp_bench_import", help="lp_bench… prefix")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        ours, mailchimp = write_files(Path(folder), args.readers)
        runs = {
            "before, email,name,status": (args.before, ours),
            "now, email,name,status": (ROOT, ours),
            "now, Mailchimp export": (ROOT, mailchimp),
        }
        figures = {}
        for n, (label, (tree, file)) in enumerate(runs.items()):
            seconds, summary = timed(tree.resolve(), file, f"{args.database}_{n}")
            figures[label] = {"seconds": round(seconds, 2), "summary": summary}
            print(f"{label:28} {seconds:7.2f} s   {summary}", flush=True)
    before = figures["before, email,name,status"]["seconds"]
    ratio = figures["now, Mailchimp export"]["seconds"] / before
    print(f"\n{args.readers:,} readers: Mailchimp export / before = {ratio:.2f}×")
    data = {"machine": report.machine(report.POSTGRES), "readers": args.readers}
    path = report.save("import_formats", data | {"runs": figures, "ratio": ratio})
    print(f"Written to {path}")


if __name__ == "__main__":
    main()
