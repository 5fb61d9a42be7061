"""sitemap.xml: the archive index, each public newsletter's archive and every
sent issue of a public newsletter, each with when it last changed. Drafts,
issues still sending and newsletters kept off the archive are never listed."""

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.db.models import OuterRef, Subquery
from django.urls import reverse

from newsletter.models import Issue, Newsletter


class _OnSiteUrl(Sitemap):
    """Addresses under SITE_URL, as every link in the emails, whichever host
    name the crawler came by."""

    def get_protocol(self, protocol=None) -> str:
        return settings.SITE_URL.split("://", 1)[0]

    def get_domain(self, site=None) -> str:
        return settings.SITE_URL.split("://", 1)[1]


class ArchiveSitemap(_OnSiteUrl):
    """The archive index and each public newsletter's archive page (the first:
    the later ones hold only issues, listed below on their own)."""

    def items(self) -> list[tuple[str, object]]:
        latest = (
            Issue.objects.archived()
            .with_last_change()
            .filter(newsletter=OuterRef("pk"))
            .order_by("-last_change")
            .values("last_change")[:1]
        )
        newsletters = (
            Newsletter.objects.filter(is_public=True)
            .annotate(last_change=Subquery(latest))
            .order_by("name", "pk")
        )
        pages = [(n.get_absolute_url(), n.last_change) for n in newsletters]
        newest = max((changed for _, changed in pages if changed), default=None)
        return [(reverse("archive"), newest), *pages]

    def location(self, item) -> str:
        return item[0]

    def lastmod(self, item):
        return item[1]


class IssueSitemap(_OnSiteUrl):
    def items(self):
        return (
            Issue.objects.archived()
            .with_last_change()
            .select_related("newsletter")
            .order_by("newsletter__name", "newsletter_id", "-number")
        )

    def lastmod(self, issue: Issue):
        return issue.last_change


SITEMAPS = {"archive": ArchiveSitemap, "issues": IssueSitemap}
