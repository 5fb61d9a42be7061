from django.core.management.base import BaseCommand, CommandError

from newsletter.models import Newsletter
from subscribers.exporting import csv_lines
from subscribers.models import Subscription


class Command(BaseCommand):
    help = "Write a newsletter's subscribers as CSV (email,name,status,...) to standard output."

    def add_arguments(self, parser):
        parser.add_argument("--newsletter", required=True, metavar="SLUG")
        parser.add_argument("--status", choices=Subscription.Status.values)
        parser.add_argument("--output", metavar="FILE", help="Write here instead of stdout.")

    def handle(self, *args, newsletter, status, output, **options):
        target = Newsletter.objects.filter(slug=newsletter).first()
        if target is None:
            raise CommandError(f"No newsletter with the slug “{newsletter}”.")
        if output:
            with open(output, "w", encoding="utf-8", newline="") as out:
                out.writelines(csv_lines(target, status=status))
            return
        for line in csv_lines(target, status=status):
            self.stdout.write(line, ending="")
