"""Index the public archive for search and the link pages now, rather than a
few issues per reader's request (newsletter.library.index): after deploying
onto a long archive, or to rebuild the entries after a bulk import."""

from django.core.management.base import BaseCommand, CommandError

from newsletter.library.index import sync
from newsletter.models import ArchiveEntry, Newsletter


class Command(BaseCommand):
    help = "Index every public newsletter's archive (or the one named) for search."

    def add_arguments(self, parser):
        parser.add_argument("slug", nargs="?", help="one newsletter's slug")
        parser.add_argument("--rebuild", action="store_true", help="drop its entries first")

    def handle(self, *args, slug=None, rebuild=False, **options):
        newsletters = Newsletter.objects.filter(is_public=True)
        if slug is not None:
            newsletters = newsletters.filter(slug=slug)
            if not newsletters.exists():
                raise CommandError(f"No public newsletter “{slug}”.")
        for newsletter in newsletters:
            if rebuild:
                ArchiveEntry.objects.filter(newsletter=newsletter).delete()
            sync(newsletter, limit=None)
            count = ArchiveEntry.objects.filter(newsletter=newsletter).count()
            self.stdout.write(f"{newsletter.name}: {count} links in the archive.")
