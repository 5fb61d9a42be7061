"""Links as pages of their own: a page per archived link, linked from the
issue's web page (never from its email), a newsletter's sources, and its
most-clicked links of a year, from readers' clicks only."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from mail.tokens import link_token, recipient_key
from newsletter.models import Click, Delivery, Issue, Link, Newsletter
from newsletter.rendering import render_issue
from tests.builders import (
    drafting,
    make_authored_issue,
    make_delivery,
    make_field_notes_newsletter,
    make_link,
    make_reader,
    make_sent_issue,
)
from tests.helpers import mid_month

pytestmark = pytest.mark.django_db


def link_to(link: Link, source: str = "", commentary: str = "") -> Link:
    Link.objects.filter(pk=link.pk).update(source=source, commentary=commentary)
    link.refresh_from_db()
    return link


@pytest.fixture
def notes(db) -> Newsletter:
    return make_field_notes_newsletter()


@pytest.fixture
def archive(notes):
    """Two sent issues: three links from "Plant Blog", one from a bare host."""
    first = make_sent_issue(notes, 1, subject="Roots", sent_at=mid_month(2025))
    second = make_sent_issue(notes, 2, subject="Shoots", sent_at=mid_month(2026))
    links = {
        "roots": link_to(
            make_link(first, "https://plants.example/roots", title="Why roots matter"),
            "Plant Blog",
            "Roots hold the soil. See *the study*.",
        ),
        "bark": link_to(
            make_link(first, "https://plants.example/bark", title="Bark"), "Plant Blog"
        ),
        "leaves": link_to(
            make_link(second, "https://plants.example/leaves", title="Leaves"), "Plant Blog"
        ),
        "moss": make_link(second, "https://www.moss.example/a", title="On moss"),
    }
    return links


def page(client, name: str, *args, expect: int = 200, **params) -> str:
    response = client.get(reverse(name, args=args), params)
    assert response.status_code == expect, response.content.decode()[:1500]
    return response.content.decode()


def test_a_link_has_a_page_with_its_commentary_its_issue_and_more_from_its_source(
    client, notes, archive
):
    roots = archive["roots"]
    html = page(client, "archive_link", notes.slug, roots.pk)
    assert "<h1>Why roots matter</h1>" in html
    assert "Roots hold the soil. See <em>the study</em>." in html
    assert 'href="https://plants.example/roots"' in html
    assert "From issue #1:" in html and f'href="{roots.section.issue.get_absolute_url()}"' in html
    more = html[html.index("More from Plant Blog") :]
    assert more.index(">Leaves<") < more.index(">Bark<")  # newest first
    assert "Why roots matter" not in more and "On moss" not in more


def test_a_link_without_a_source_is_from_its_host(client, notes, archive):
    html = page(client, "archive_link", notes.slug, archive["moss"].pk)
    assert ">moss.example</a>" in html  # "www." left out


@pytest.mark.parametrize("status", [Issue.Status.DRAFT, Issue.Status.SENDING])
def test_a_link_of_an_issue_not_in_the_archive_has_no_page(client, notes, status):
    issue = make_authored_issue(notes, 5, sections=1, links=1, status=status)
    link = Link.objects.get(section__issue=issue)
    page(client, "archive_link", notes.slug, link.pk, expect=404)


def test_unknown_private_and_impossible_links_have_no_page(client, notes, archive):
    other = make_field_notes_newsletter("other", name="Other")
    page(client, "archive_link", other.slug, archive["roots"].pk, expect=404)  # not its link
    page(client, "archive_link", notes.slug, 10**30, expect=404)
    Newsletter.objects.filter(pk=notes.pk).update(is_public=False)
    page(client, "archive_link", notes.slug, archive["roots"].pk, expect=404)
    page(client, "archive_sources", notes.slug, expect=404)
    page(client, "archive_most_clicked", notes.slug, expect=404)


def test_the_issue_page_links_each_link_to_its_page_and_the_email_does_not(client, notes, archive):
    issue = archive["roots"].section.issue
    web = page(client, "issue_web", notes.slug, issue.slug)
    for link in (archive["roots"], archive["bark"]):
        assert reverse("archive_link", args=[notes.slug, link.pk]) in web
    assert 'aria-label="Permalink: Why roots matter"' in web
    email = render_issue(issue)
    assert "/links/" not in email.html and "/links/" not in email.text
    feed = client.get(reverse("feed", args=[notes.slug])).content.decode()
    assert "/links/" not in feed


def test_an_issue_page_still_being_sent_has_no_permalinks_yet(client, notes):
    issue = make_authored_issue(notes, 5, sections=1, links=2, status=Issue.Status.SENDING)
    assert "/links/" not in page(client, "issue_web", notes.slug, issue.slug)


# -- sources ----------------------------------------------------------------------


def test_sources_lists_the_sites_linked_most_first(client, notes, archive):
    html = page(client, "archive_sources", notes.slug)
    rows = re.findall(r"<tr><td><a href=\"([^\"]+)\">([^<]+)</a></td><td class=\"num\">(\d+)", html)
    assert [(name, int(count)) for _, name, count in rows] == [
        ("Plant Blog", 3),
        ("moss.example", 1),
    ]
    assert rows[0][0] == reverse("archive_search", args=[notes.slug]) + "?source=Plant%20Blog"
    assert "The sites Field Notes links to most, of 2." in html


def test_a_source_lists_its_links(client, notes, archive):
    html = page(client, "archive_search", notes.slug, source="Plant Blog")
    assert "3 links, newest first." in html
    assert html.index(">Leaves<") < html.index(">Why roots matter<")


# -- most clicked --------------------------------------------------------------------


def clicks(link: Link, humans: int = 0, scanners: int = 0) -> None:
    for kind, count in ((Click.Kind.HUMAN, humans), (Click.Kind.SCANNER, scanners)):
        Click.objects.bulk_create([Click(link=link, kind=kind) for _ in range(count)])


def ranked(html: str) -> list[str]:
    return re.findall(r'<a class="title" href="[^"]+">([^<]+)</a>', html)


def test_most_clicked_counts_readers_clicks_only(client, notes, archive):
    clicks(archive["leaves"], humans=2, scanners=50)
    clicks(archive["moss"], humans=5)
    clicks(archive["roots"], humans=9)  # the year before
    html = page(client, "archive_most_clicked", notes.slug)
    assert "Most clicked in 2026" in html
    assert ranked(html) == ["On moss", "Leaves"]
    assert ranked(page(client, "archive_most_clicked", notes.slug, year=2025)) == [
        "Why roots matter"
    ]
    assert '<a href="?year=2025">2025</a>' in html


def test_a_link_only_scanners_opened_is_not_among_the_most_clicked(client, notes, archive):
    clicks(archive["bark"], scanners=30)
    html = page(client, "archive_most_clicked", notes.slug)
    assert ranked(html) == []
    assert "No reader clicked a link of 2026's issues." in html


def test_a_newsletter_without_click_counts_says_so(client, notes, archive):
    Newsletter.objects.filter(pk=notes.pk).update(click_tracking=False)
    assert "This newsletter does not count clicks." in page(
        client, "archive_most_clicked", notes.slug
    )


@pytest.mark.parametrize("year", ["abc", "1999", "2025x", "9" * 40])
def test_a_year_without_issues_gets_a_clear_page(client, notes, archive, year):
    clicks(archive["moss"], humans=1)
    html = page(client, "archive_most_clicked", notes.slug, expect=404, year=year)
    assert f"No issue went out in “{year}”: pick a year above." in html
    assert '<a href="?year=2026">2026</a>' in html and '<a href="?year=2025">2025</a>' in html


def test_draft_links_are_never_among_the_most_clicked(client, notes, archive):
    draft = Issue.objects.create(
        newsletter=notes, number=3, subject="Next", send_at=mid_month(2026, 9)
    )
    with drafting(draft):
        secret = make_link(draft, "https://example.org/secret", title="Secret draft link")
    clicks(secret, humans=99)  # a test email's click would not count: made here all the same
    clicks(archive["moss"], humans=1)
    assert ranked(page(client, "archive_most_clicked", notes.slug)) == ["On moss"]


def test_readers_clicks_from_the_email_make_a_link_most_clicked(client, notes, archive):
    """End to end: clicks through the email's tracked links, a reader's and a scanner's."""
    issue = archive["moss"].section.issue
    ada = make_reader(notes, "ada@example.com")
    delivery = make_delivery(issue, ada)
    # Delivered yesterday: two links opened at once just after sending would be a scanner's.
    Delivery.objects.filter(pk=delivery.pk).update(sent_at=timezone.now() - timedelta(days=1))
    delivery.refresh_from_db()
    path = f"/l/{link_token(archive['leaves'])}/{recipient_key(delivery.pk)}/"
    browser = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0"
    assert client.get(path, HTTP_USER_AGENT=browser).status_code == 302
    other = f"/l/{link_token(archive['moss'])}/{recipient_key(delivery.pk)}/"
    assert client.get(other, HTTP_USER_AGENT="Slackbot-LinkExpanding 1.0").status_code == 302
    assert ranked(page(client, "archive_most_clicked", notes.slug)) == ["Leaves"]
