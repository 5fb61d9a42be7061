"""Searching a newsletter's archive: every sent issue's links, by their words
and their section's and issue's; filters by year and source; whatever is
typed, a clear page. Runs on whichever database the suite runs on (SQLite's
FTS5 by default, PostgreSQL's full-text search in CI's second run): the named
queries below must find the same links on both."""

import io
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from newsletter.corrections import correct_link
from newsletter.library import index
from newsletter.library.index import sync
from newsletter.models import ArchiveEntry, Issue, Link, Newsletter
from tests.builders import drafting, make_field_notes_newsletter, make_link, make_sent_issue
from tests.helpers import mid_month

pytestmark = pytest.mark.django_db

ON_POSTGRES = connection.vendor == "postgresql"
ISSUE_1 = {  # the demo's sent issue: its seventeen links
    "A field guide to :has(), with twelve patterns",
    "Container queries playground",
    ":has() on MDN",
    "The View Transition API",
    "The Popover API",
    "Interaction to Next Paint",
    "Can I use :has()?",
    "RFC 8058: signalling one-click unsubscribe",
    "RFC 9110: HTTP semantics",
    "WCAG 2.2 quick reference",
    "View transitions explainer",
    "Learn CSS",
    "Learn Accessibility",
    "MDN's learning area",
    "What's new in Django 5.2",
    "Analyse runtime performance in Chrome DevTools",
    "Full-text search in PostgreSQL",
}
# What each query finds in the demo archive, on either database.
NAMED_QUERIES = {
    "dropdown": {"The Popover API"},  # only in its commentary
    "specificity": {":has() on MDN"},
    "two hundred lines": {"The Popover API"},  # every word, anywhere in the link
    "container queries": {"Container queries playground"},
    "accessibility guidelines": {"WCAG 2.2 quick reference"},
    "unsubscribe": {"RFC 8058: signalling one-click unsubscribe"},
    "forms": {"Learn Accessibility", "A field guide to :has(), with twelve patterns"},  # "form"
    "checklist": {"Learn Accessibility"},  # the draft's checklist stays unseen
    "MDN": {
        ":has() on MDN",
        "The View Transition API",
        "The Popover API",
        "MDN's learning area",
    },  # a title, and the source of the rest
    "web.dev": {"Interaction to Next Paint", "Learn CSS", "Learn Accessibility"},
    "Research": {  # a section's title
        "RFC 8058: signalling one-click unsubscribe",
        "RFC 9110: HTTP semantics",
        "WCAG 2.2 quick reference",
        "View transitions explainer",
    },
    "javascript": ISSUE_1,  # the issue's intro: all of its links
    "AND": set(),  # too common to search for
    'NEAR("selector': set(),
    "draft": set(),
}
ODD_QUERIES = [
    '"',
    "*",
    "NEAR(",
    "a AND b OR NOT c",
    '"unfinished phrase',
    "title:css",
    "col1:(a b)",
    "^start",
    "'; DROP TABLE newsletter_link; --",
    "<script>alert(1)</script>",
    "café ünïcödé 𝕳𝖊𝖑𝖑𝖔 👋",
    "-minus +plus | ! & :",
    "%%% \\ ''",
    "a " * 99,
]


@pytest.fixture
def demo(db):
    call_command("seed_demo", stdout=io.StringIO())
    return Newsletter.objects.get(slug="field-notes")


def search(client, newsletter: Newsletter, expect: int = 200, **params):
    response = client.get(reverse("archive_search", args=[newsletter.slug]), params)
    assert response.status_code == expect, response.content.decode()[:2000]
    return response.content.decode()


def found(page: str) -> list[str]:
    """The titles of the links a results page lists, in order, marks taken out."""
    titles = re.findall(r'<li>\s*<h2><a href="[^"]+">(.*?)</a></h2>', page, re.S)
    return [re.sub(r"</?mark>", "", t).replace("&#x27;", "'").replace("&amp;", "&") for t in titles]


def notice(page: str) -> str:
    return " ".join(re.findall(r'<p class="card notice">(.*?)</p>', page, re.S))


def test_a_word_only_in_one_links_commentary_finds_that_link_first(client, demo):
    holders = [
        link
        for link in Link.objects.filter(section__issue__newsletter=demo)
        if "dropdown" in f"{link.title} {link.source} {link.commentary} {link.section.title}"
    ]
    assert [link.title for link in holders] == ["The Popover API"]
    assert "dropdown" in holders[0].commentary
    page = search(client, demo, q="dropdown")
    assert found(page)[0] == "The Popover API"
    assert "<mark>dropdown</mark>" in page
    assert "1 link found" in page or "One link found" in page


@pytest.mark.parametrize("query", NAMED_QUERIES)
def test_the_named_queries_find_the_same_links_on_either_database(client, demo, query):
    # More than a page's worth is never expected: every link found is listed.
    assert set(found(search(client, demo, q=query))) == NAMED_QUERIES[query]


def test_links_matching_by_their_own_words_come_before_those_matching_by_their_issue(client, demo):
    own = {
        link.title
        for link in Link.objects.filter(section__issue__newsletter=demo, section__issue__number=1)
        if "javascript" in f"{link.title} {link.source} {link.commentary}".lower()
    }
    titles = found(search(client, demo, q="javascript"))
    assert own and len(titles) == len(ISSUE_1)
    assert set(titles[: len(own)]) == own


@pytest.mark.skipif(
    not ON_POSTGRES,
    reason="the embedded default (SQLite FTS5) stems English only, with the Porter stemmer; "
    "each newsletter's own language's stemming is PostgreSQL's",
)
def test_postgresql_stems_words_in_the_newsletters_language(client):
    english = make_field_notes_newsletter()
    issue = make_sent_issue(english, subject="Reading")
    link = make_link(issue, "https://example.org/list", title="A reading list")
    Link.objects.filter(pk=link.pk).update(commentary="Hand-curated, as ever.")
    assert found(search(client, english, q="curating")) == ["A reading list"]
    german = make_field_notes_newsletter("notizen", name="Notizen", language="de")
    ausgabe = make_sent_issue(german, subject="Ausgabe")
    make_link(ausgabe, "https://example.org/haeuser", title="Die Häuser der Stadt")
    assert found(search(client, german, q="Haus")) == ["Die Häuser der Stadt"]
    # The same word in English: no stemming takes "häuser" to "haus".
    german.language = "en"
    german.save()
    assert found(search(client, german, q="Haus")) == []


def test_the_excerpt_shows_the_commentary_around_the_match_with_nothing_of_it_as_markup(
    client, demo
):
    link = Link.objects.get(title="The Popover API")
    with drafting(link.section.issue):
        link.commentary = "Menus <script>alert(1)</script> and **bold** [a link](https://x.org)."
        link.save()
    ArchiveEntry.objects.all().delete()  # indexed again, as after a send
    page = search(client, demo, q="menus")
    assert '<p class="excerpt"><mark>Menus</mark> and bold a link.</p>' in page
    assert "alert" not in page and "https://x.org" not in page


# -- filters ------------------------------------------------------------------


@pytest.fixture
def years(db):
    """Two sent issues a year apart, links from two sources, and a draft."""
    newsletter = make_field_notes_newsletter()
    old = make_sent_issue(newsletter, 1, subject="Old", sent_at=mid_month(2024, 6))
    new = make_sent_issue(newsletter, 2, subject="New", sent_at=mid_month(2025, 6))
    for issue in (old, new):
        for source in ("Alpha", "Beta"):
            title = f"Gardens {source} {issue.number}"
            link = make_link(issue, f"https://{source}.example/{issue.number}", title=title)
            Link.objects.filter(pk=link.pk).update(source=source)
    draft = Issue.objects.create(newsletter=newsletter, number=3, subject="Gardens draft")
    make_link(draft, "https://example.org/draft", title="Gardens in the draft")
    return newsletter


def test_filters_narrow_by_year_and_source(client, years):
    assert sorted(found(search(client, years, q="gardens"))) == [
        "Gardens Alpha 1",
        "Gardens Alpha 2",
        "Gardens Beta 1",
        "Gardens Beta 2",
    ]
    assert sorted(found(search(client, years, q="gardens", year=2024))) == [
        "Gardens Alpha 1",
        "Gardens Beta 1",
    ]
    assert found(search(client, years, q="gardens", year=2025, source="Beta")) == ["Gardens Beta 2"]
    # Without words: every link within the filters, newest first.
    assert found(search(client, years, source="Alpha")) == ["Gardens Alpha 2", "Gardens Alpha 1"]


def test_the_form_offers_the_archives_years_and_sources(client, years):
    page = search(client, years)
    assert '<option value="2025">2025</option>' in page
    assert '<option value="2024">2024</option>' in page
    assert '<option value="Alpha">Alpha</option>' in page
    assert "draft" not in page


@pytest.mark.parametrize(
    "params, message",
    [
        ({"q": "gardens", "year": "abc"}, "No issue went out in “abc”"),
        ({"q": "gardens", "year": "1999"}, "No issue went out in “1999”"),
        ({"q": "gardens", "year": "99999999999999999999999"}, "No issue went out in"),
        ({"q": "gardens", "source": "Gamma"}, "No link in the archive comes from “Gamma”"),
        ({"q": "gardens", "page": "0"}, "Page:"),
        ({"q": "gardens", "page": "two"}, "Page:"),
        ({"q": "x" * 201}, "at most 200 characters"),
        ({"q": "a\x00b"}, "Null characters are not allowed"),
    ],
)
def test_bad_filters_and_queries_get_the_form_back_with_what_is_wrong(
    client, years, params, message
):
    page = search(client, years, expect=400, **params)
    assert message in page
    assert "Nothing was searched" in page
    assert found(page) == []


@pytest.mark.parametrize("query", ODD_QUERIES)
def test_odd_characters_and_search_syntax_are_words_or_nothing(client, demo, query):
    page = search(client, demo, q=query)
    assert found(page) or notice(page)  # the links found, or why there are none
    if not re.search(r"[^\W_]", query):
        assert "There is no word to search for there" in notice(page)


def test_words_too_common_to_search_for_are_said_to_be(client, demo):
    assert "only words too common to search for" in notice(search(client, demo, q="the AND"))


def test_a_page_past_the_end_says_where_the_results_end(client, years):
    page = search(client, years, expect=404, q="gardens", page=3)
    assert "There is no page 3" in page
    assert "?q=gardens&amp;page=1" in page
    # No results at all: that is what it says, on any page.
    assert "No link matches" in notice(search(client, years, q="orchids", page=3))


def test_results_come_a_page_at_a_time(client, db):
    newsletter = make_field_notes_newsletter()
    issue = make_sent_issue(newsletter)
    for n in range(25):
        make_link(issue, f"https://example.org/{n}", title=f"Orchard {n:02}")
    first = search(client, newsletter, q="orchard")
    assert len(found(first)) == 20 and "25 links found" in first
    assert "Page 1 of 2" in first and 'rel="next"' in first and 'rel="prev"' not in first
    second = search(client, newsletter, q="orchard", page=2)
    assert len(found(second)) == 5 and 'rel="prev"' in second
    assert set(found(first)) | set(found(second)) == {f"Orchard {n:02}" for n in range(25)}


# -- what is public -------------------------------------------------------------


@pytest.mark.parametrize(
    "status", [Issue.Status.DRAFT, Issue.Status.SCHEDULED, Issue.Status.CANCELLED]
)
def test_unsent_issues_are_never_searched(client, demo, status):
    issue = Issue.objects.create(newsletter=demo, number=9, subject="Zeppelins", status=status)
    with drafting(issue):
        make_link(issue, "https://example.org/z", title="Zeppelin stories")
    assert found(search(client, demo, q="zeppelin")) == []
    sources = client.get(reverse("archive_sources", args=[demo.slug])).content.decode()
    assert "example.org" not in sources


def test_an_issue_is_found_once_its_send_is_over(client, demo):
    issue = Issue.objects.create(
        newsletter=demo, number=9, subject="Zeppelins", status=Issue.Status.SENDING
    )
    with drafting(issue):
        make_link(issue, "https://example.org/z", title="Zeppelin stories")
    assert found(search(client, demo, q="zeppelin")) == []
    Issue.objects.filter(pk=issue.pk).update(status=Issue.Status.SENT, sent_at=timezone.now())
    assert found(search(client, demo, q="zeppelin")) == ["Zeppelin stories"]


def test_a_private_newsletter_has_no_search(client, demo):
    assert found(search(client, demo, q="dropdown")) == ["The Popover API"]
    Newsletter.objects.filter(pk=demo.pk).update(is_public=False)
    search(client, demo, expect=404, q="dropdown")


def test_the_entries_follow_the_newsletters_language_and_corrected_links(client, demo):
    sync(demo)
    assert set(ArchiveEntry.objects.values_list("language", flat=True)) == {"en"}
    Newsletter.objects.filter(pk=demo.pk).update(language="fr")
    demo.refresh_from_db()
    sync(demo)
    assert set(ArchiveEntry.objects.values_list("language", flat=True)) == {"fr"}
    link = Link.objects.get(title="WCAG 2.2 quick reference")
    Link.objects.filter(pk=link.pk).update(source="")  # its site is its host
    index.forget_issue_of(link)
    sync(demo)
    assert ArchiveEntry.objects.get(link=link).site == "w3.org"
    editor = User.objects.create_superuser("ed", "ed@example.com", "pw")
    correct_link(link, url="https://w3c.example/wcag", reason="moved", by=editor)
    sync(demo)
    assert ArchiveEntry.objects.get(link=link).site == "w3c.example"


def test_the_archive_page_has_the_search_box(client, demo):
    page = client.get(reverse("archive_newsletter", args=[demo.slug])).content.decode()
    assert f'action="{reverse("archive_search", args=[demo.slug])}"' in page
    assert 'name="q"' in page
    assert reverse("archive_sources", args=[demo.slug]) in page
    assert reverse("archive_most_clicked", args=[demo.slug]) in page


def test_a_reader_request_indexes_a_few_issues_and_the_command_the_rest(client, db):
    newsletter = make_field_notes_newsletter()
    for number in range(1, index.SYNC_ISSUES + 3):
        issue = make_sent_issue(newsletter, number, subject=f"Issue {number}")
        make_link(issue, f"https://example.org/{number}", title=f"Walnut {number}")
    newest = {f"Walnut {n}" for n in range(3, index.SYNC_ISSUES + 3)}
    assert set(found(search(client, newsletter, q="walnut"))) == newest  # the newest, at once
    out = io.StringIO()
    call_command("index_archive", newsletter.slug, stdout=out)
    assert "Field Notes: 14 links in the archive." in out.getvalue()
    assert f"{index.SYNC_ISSUES + 2} links found" in search(client, newsletter, q="walnut")


def test_index_archive_names_a_newsletter_it_does_not_know(db):
    with pytest.raises(CommandError, match="No public newsletter “nope”"):
        call_command("index_archive", "nope")
