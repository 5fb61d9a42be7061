"""manage.py add_link NEWSLETTER_SLUG URL [--note TEXT]

Puts a link in the newsletter's inbox; its title, source and summary are read
from its page by a worker. The same page twice is one entry.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from newsletter.curation.inbox import inbox_add
from newsletter.models import Newsletter


class Command(BaseCommand):
    help = "Add a link to a newsletter's inbox, to use in a coming issue."

    def add_arguments(self, parser):
        parser.add_argument("newsletter", help="The newsletter's slug, e.g. ml-monthly.")
        parser.add_argument("url")
        parser.add_argument("--note", default="", help="A note for later.")

    def handle(self, *args, newsletter: str, url: str, note: str, **options):
        found = Newsletter.objects.filter(slug=newsletter).first()
        if found is None:
            slugs = ", ".join(Newsletter.objects.values_list("slug", flat=True)) or "none yet"
            raise CommandError(f"No newsletter “{newsletter}” (there are: {slugs}).")
        try:
            entry, created = inbox_add(newsletter=found, url=url, note=note)
        except ValidationError as exc:
            raise CommandError(f"“{url[:200]}”: {' '.join(exc.messages)}") from exc
        if created:
            self.stdout.write(f"Added to {found.name}'s inbox: {entry.url}")
        else:
            self.stdout.write(f"Already in {found.name}'s inbox: {entry.url}")
