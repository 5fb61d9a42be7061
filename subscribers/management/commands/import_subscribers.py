import sys

from django.core.management.base import BaseCommand, CommandError

from newsletter.models import Newsletter
from subscribers import import_formats
from subscribers.importing import import_csv


class Command(BaseCommand):
    help = (
        "Import subscribers from a CSV file: an export of Mailchimp, Substack, Beehiiv, Kit, "
        "Buttondown, Ghost, listmonk or Curated as it is, a header line email,name[,status], "
        "or any file with --map. Bad lines are reported with their line numbers; suppressed "
        "and erased addresses are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file, or - for standard input")
        parser.add_argument("--newsletter", required=True, metavar="SLUG")
        parser.add_argument(
            "--confirmed",
            action="store_true",
            help="Active readers are confirmed (you hold their consent), not pending; those "
            "who left the other tool, bounced or never confirmed there never are.",
        )
        parser.add_argument(
            "--map",
            dest="mapping",
            metavar="COLUMNS",
            help="For a file no format is recognised in: ours=theirs pairs, e.g. "
            "'email=E-mail,name=Full name,status=State,date=Joined'.",
        )
        parser.add_argument(
            "--atomic", action="store_true", help="Import nothing if any line is bad."
        )

    def handle(self, *args, file, newsletter, confirmed, atomic, mapping, **options):
        target = Newsletter.objects.filter(slug=newsletter).first()
        if target is None:
            raise CommandError(f"No newsletter with the slug “{newsletter}”.")
        try:
            columns = import_formats.parse_mapping(mapping) if mapping else None
        except ValueError as exc:
            raise CommandError(f"--map: {exc}.") from exc
        try:
            stream = (
                open(file, encoding="utf-8-sig", errors="replace", newline="")
                if file != "-"
                else sys.stdin
            )
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from exc
        with stream:
            report = import_csv(stream, target, confirmed=confirmed, atomic=atomic, mapping=columns)
        if report.format:
            self.stdout.write(report.recognised())
        for line, message in report.errors:
            self.stderr.write(f"line {line}: {message}")
        if report.rolled_back:
            raise CommandError(report.summary())
        self.stdout.write(self.style.SUCCESS(report.summary()))
