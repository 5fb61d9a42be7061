"""A link's title, source and summary read from its page, by a task over
config.outbound.fetch: what the editor no longer types, and what happens when
the page cannot give it."""

import pytest

from newsletter.curation.filling import fill_inbox_link, fill_link
from newsletter.curation.metadata import page_metadata
from newsletter.models import InboxLink, Issue, Link
from newsletter.rendering import render_issue
from tests.builders import make_issue, make_newsletter
from tests.page_site import json_ld_page, opengraph_page, plain_page, twitter_page

pytestmark = pytest.mark.django_db

ARTICLE = "Attention, explained with pictures"
SUMMARY = "A visual walk through the transformer, one matrix at a time."


@pytest.mark.parametrize(
    "html, title, source, summary",
    [
        (opengraph_page(ARTICLE, "The Gradient", SUMMARY), ARTICLE, "The Gradient", SUMMARY),
        (json_ld_page(ARTICLE, "Daily Tensor", SUMMARY), ARTICLE, "Daily Tensor", SUMMARY),
        (twitter_page(ARTICLE, SUMMARY), ARTICLE, "blog.example.org", SUMMARY),
        (plain_page(ARTICLE, SUMMARY), ARTICLE, "blog.example.org", SUMMARY),
        (plain_page(ARTICLE), ARTICLE, "blog.example.org", ""),
        ("<p>no head at all", "", "blog.example.org", ""),
    ],
    ids=["opengraph", "json-ld", "twitter", "title-and-description", "title-only", "nothing"],
)
def test_it_reads_what_the_page_says_about_itself(html, title, source, summary):
    page = page_metadata(html, "https://www.blog.example.org/posts/attention")
    assert (page.title, page.source, page.summary) == (title, source, summary)


def test_it_keeps_a_huge_title_within_the_field():
    page = page_metadata(plain_page("word " * 500), "https://example.org/")
    assert len(page.title) == 300 and page.title.endswith("…")


def test_it_survives_broken_json_ld():
    html = '<title>Fine</title><script type="application/ld+json">{"@graph": [1, {</script>'
    assert page_metadata(html, "https://example.org/").title == "Fine"


def test_it_fills_a_link_added_with_its_url_only(pages):
    url = pages.add("/attention", opengraph_page(ARTICLE, "The Gradient", SUMMARY))
    link = Link.objects.create(section=make_issue(make_newsletter()).sections.get(), url=url)

    assert fill_link(link_id=link.pk, url=url) == "filled"
    link.refresh_from_db()
    assert (link.title, link.source, link.summary, link.page_error) == (
        ARTICLE,
        "The Gradient",
        SUMMARY,
        "",
    )


def test_the_email_shows_the_title_filled_in_after_it_was_first_rendered(pages):
    # Preview renders (and caches) before the worker has read the page.
    url = pages.add("/attention", opengraph_page(ARTICLE, "The Gradient", SUMMARY))
    issue = make_issue(make_newsletter())
    Link.objects.create(section=issue.sections.get(), url=url)
    assert ARTICLE not in render_issue(issue).html

    fill_link(link_id=Link.objects.get(url=url).pk, url=url)
    assert ARTICLE in render_issue(issue).html


def test_it_keeps_what_the_editor_typed_meanwhile(pages):
    url = pages.add("/attention", opengraph_page(ARTICLE, "The Gradient", SUMMARY))
    section = make_issue(make_newsletter()).sections.get()
    link = Link.objects.create(section=section, url=url, title="My own title")

    fill_link(link_id=link.pk, url=url)
    link.refresh_from_db()
    assert (link.title, link.source) == ("My own title", "The Gradient")


def test_a_fetch_for_an_earlier_url_changes_nothing(pages):
    old = pages.add("/old", opengraph_page("The old page", "Old", SUMMARY))
    section = make_issue(make_newsletter()).sections.get()
    link = Link.objects.create(section=section, url=pages.url + "/new")

    assert fill_link(link_id=link.pk, url=old) == "gone"
    link.refresh_from_db()
    assert link.title == ""


def test_it_never_touches_an_issue_that_went_out(pages):
    url = pages.add("/attention", opengraph_page(ARTICLE, "The Gradient", SUMMARY))
    issue = make_issue(make_newsletter())
    link = Link.objects.create(section=issue.sections.get(), url=url)
    Issue.objects.filter(pk=issue.pk).update(status=Issue.Status.SENT)

    assert fill_link(link_id=link.pk, url=url) == "gone"
    link.refresh_from_db()
    assert link.title == "" and pages.asked == []


@pytest.mark.parametrize(
    "path, page, reason",
    [
        ("/missing", None, "the page answered 404"),
        ("/paper.pdf", ("%PDF-1.7", "application/pdf"), "not a web page (application/pdf)"),
        ("/data", ("{}", "application/json; charset=utf-8"), "not a web page (application/json)"),
    ],
)
def test_a_failure_leaves_the_fields_to_the_editor_with_the_reason(pages, path, page, reason):
    if page:
        pages.add(path, page[0], content_type=page[1])
    entry = InboxLink.objects.create(
        newsletter=make_newsletter(), url=pages.url + path, url_key=path
    )
    fill_inbox_link(inbox_link_id=entry.pk, url=entry.url)
    entry.refresh_from_db()
    assert (entry.title, entry.source, entry.page_error) == ("", "", reason)
    assert entry.page_fetched_at is not None


def test_a_private_address_is_refused_with_the_reason(settings):
    settings.FETCH_ALLOW_LOOPBACK = False
    entry = InboxLink.objects.create(
        newsletter=make_newsletter(), url="http://127.0.0.1:9/admin", url_key="k"
    )
    fill_inbox_link(inbox_link_id=entry.pk, url=entry.url)
    entry.refresh_from_db()
    assert entry.title == ""
    assert "loopback" in entry.page_error


def test_a_link_still_waiting_for_its_title_renders_with_its_host():
    issue = make_issue(make_newsletter())
    Link.objects.create(section=issue.sections.get(), url="https://www.deepmind.example/blog/x")
    rendered = render_issue(issue)
    assert ">www.deepmind.example</a>" in rendered.html
    assert "* www.deepmind.example" in rendered.text
