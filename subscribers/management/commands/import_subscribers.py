import sys

from django.core.management.base import BaseCommand, CommandError

from newsletter.models import Newsletter
from subscribers.importing import import_csv


class Command(BaseCommand):
    help = (
        "Import subscribers from a CSV file with a header line: email,name[,status]. "
        "Bad lines are reported with their line numbers; suppressed and erased addresses "
        "are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file, or - for standard input")
        parser.add_argument("--newsletter", required=True, metavar="SLUG")
        parser.add_argument(
            "--confirmed",
            action="store_true",
            help="Rows without a status are confirmed (you hold their consent), not pending.",
        )
        parser.add_argument(
            "--atomic", action="store_true", help="Import nothing if any line is bad."
        )

    def handle(self, *args, file, newsletter, confirmed, atomic, **options):
        target = Newsletter.objects.filter(slug=newsletter).first()
        if target is None:
            raise CommandError(f"No newsletter with the slug “{newsletter}”.")
        try:
            stream = (
                open(file, encoding="utf-8-sig", errors="replace", newline="")
                if file != "-"
                else sys.stdin
            )
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from exc
        with stream:
            report = import_csv(stream, target, confirmed=confirmed, atomic=atomic)
        for line, message in report.errors:
            self.stderr.write(f"line {line}: {message}")
        if report.rolled_back:
            raise CommandError(report.summary())
        self.stdout.write(self.style.SUCCESS(report.summary()))
