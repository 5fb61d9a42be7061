"""sitemap.xml: valid by the Sitemap 0.9 schema (kept in tests/schemas/), the
archive and every sent issue of a public newsletter with when it last changed,
at SITE_URL's address; nothing unsent, nothing of a newsletter kept off the
archive."""

from pathlib import Path

import pytest
from freezegun import freeze_time
from lxml import etree

from newsletter.corrections import correct_link
from newsletter.models import Issue, Link
from tests.builders import make_authored_issue, make_editor, make_field_notes_newsletter

pytestmark = pytest.mark.django_db

S = Issue.Status
SCHEMA = etree.XMLSchema(etree.parse(Path(__file__).parent / "schemas" / "sitemap.xsd"))
NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
SITE = "https://news.example.org"


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = SITE


@pytest.fixture
def newsletter():
    newsletter = make_field_notes_newsletter()
    with freeze_time("2026-03-03 09:00"):
        for number, status in enumerate([S.SENT, S.SENT, S.SENDING, S.SCHEDULED, S.DRAFT], 1):
            make_authored_issue(
                newsletter, number, subject=f"Subject {number}", status=status, sections=1, links=1
            )
    return newsletter


def sitemap(client, **headers) -> dict[str, str | None]:
    """Each <loc> in sitemap.xml and its <lastmod>, after the schema has passed the document."""
    response = client.get("/sitemap.xml", **headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    document = etree.fromstring(response.content)
    assert SCHEMA.validate(document), SCHEMA.error_log
    return {
        url.findtext("s:loc", namespaces=NS): url.findtext("s:lastmod", namespaces=NS)
        for url in document.iterfind("s:url", NS)
    }


def test_it_is_a_valid_sitemap_of_the_archive_and_the_sent_issues(client, newsletter):
    listed = sitemap(client)
    sent = [newsletter.issues.get(number=n) for n in (2, 1)]
    assert list(listed) == [
        f"{SITE}/archive/",
        f"{SITE}/archive/field-notes/",
        *(SITE + issue.get_absolute_url() for issue in sent),
    ]
    assert set(listed.values()) == {"2026-03-03"}


def test_it_is_valid_with_nothing_sent_yet(client):
    make_field_notes_newsletter()
    assert list(sitemap(client)) == [f"{SITE}/archive/", f"{SITE}/archive/field-notes/"]


def test_a_newsletter_kept_off_the_archive_is_not_in_it(client, newsletter):
    hidden = make_field_notes_newsletter("staff-notes", name="Staff Notes", is_public=False)
    make_authored_issue(hidden, 1, subject="Internal", status=S.SENT)
    listed = " ".join(sitemap(client))
    assert "staff-notes" not in listed
    assert "field-notes" in listed


def test_unsent_issues_are_not_in_it(client, newsletter):
    listed = sitemap(client)
    for issue in newsletter.issues.exclude(status=S.SENT):
        assert SITE + issue.get_absolute_url() not in listed, issue.status


def test_a_corrected_link_moves_its_issues_lastmod(client, newsletter):
    issue = newsletter.issues.get(number=1)
    link = Link.objects.get(section__issue=issue)
    with freeze_time("2026-04-10 12:00"):
        correct_link(
            link,
            url="https://example.org/moved",
            reason="moved",
            by=make_editor(perms=("correct_link",)),
        )
    listed = sitemap(client)
    assert listed[SITE + issue.get_absolute_url()] == "2026-04-10"
    assert listed[SITE + newsletter.issues.get(number=2).get_absolute_url()] == "2026-03-03"
    assert listed[f"{SITE}/archive/field-notes/"] == "2026-04-10"
    assert listed[f"{SITE}/archive/"] == "2026-04-10"


def test_addresses_are_at_site_url_whatever_host_was_asked(client, newsletter, settings):
    settings.ALLOWED_HOSTS = ["*"]
    listed = sitemap(client, HTTP_HOST="other.example.net")
    assert all(url.startswith(f"{SITE}/") for url in listed)


@pytest.mark.parametrize("page", ["2", "0", "x", "9" * 5000])
def test_a_page_of_it_that_is_not_there_is_a_404(client, newsletter, page):
    assert client.get("/sitemap.xml", {"p": page}).status_code == 404
