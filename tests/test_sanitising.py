"""Whatever an editor types, no script reaches a reader: one test per editor field,
checked in the email's HTML, its text part and the public web page."""

import html
from contextlib import nullcontext

import pytest
from django.urls import reverse

from mail.rendering import RenderError
from mail.tokens import prose_link_token
from newsletter.models import Issue, Link, ProseLink, Section
from newsletter.rendering import render_issue
from tests.builders import drafting, make_authored_issue, make_field_notes_newsletter

pytestmark = pytest.mark.django_db

HTML_ATTACK = (
    'Good <script>alert("s")</script> <img src=x onerror=alert("i")> '
    "<a href=\"javascript:alert('a')\">click</a> <svg onload=alert(1)></svg> "
    "<iframe src=https://evil.example></iframe> <a href='/relative'>rel</a>"
)
# Markdown fields also get Markdown's own ways of making a link or an image.
MARKDOWN_ATTACK = (
    HTML_ATTACK
    + "\n\n[md](javascript:alert('m')) ![img](javascript:alert('n')) "
    + "[data](data:text/html;base64,PHNjcmlwdD4=) <JAVASCRIPT:alert(1)>"
)
FORBIDDEN = ("<script", "onerror", "onload", "javascript:", "<iframe", "data:text", "<svg")


@pytest.fixture
def issue():
    issue = make_authored_issue(
        make_field_notes_newsletter(), status=Issue.Status.SENT, sections=1, links=1
    )
    return Issue.objects.select_related("newsletter").get(pk=issue.pk)


def assert_clean(client, issue: Issue) -> None:
    rendered = render_issue(Issue.objects.get(pk=issue.pk))
    page = client.get(issue.get_absolute_url())
    assert page.status_code == 200
    parts = {"html": rendered.html, "text": rendered.text, "page": page.content.decode()}
    parts["subject"] = rendered.subject
    for name, content in parts.items():
        for needle in FORBIDDEN:
            assert needle not in content.lower(), f"{needle!r} in the {name}"
    # The harmless words around the attack survive.
    assert "Good" in parts["html"]


def set_field(obj, field: str, value: str) -> None:
    # Straight to the database: the admin form is not the only way in. Content
    # is written as a draft's, as it would have been before the send.
    issue = {Section: lambda: obj.issue, Link: lambda: obj.section.issue}.get(type(obj))
    with drafting(issue()) if issue else nullcontext():
        type(obj).objects.filter(pk=obj.pk).update(**{field: value})
        obj.refresh_from_db()
        obj.save()  # and through save(), so the render cache sees a change


@pytest.mark.parametrize("field", ["subject", "preheader"])
def test_issue_plain_fields_are_stripped(client, issue, field):
    set_field(issue, field, HTML_ATTACK[:150])
    assert_clean(client, issue)


@pytest.mark.parametrize("field", ["intro", "sign_off"])
def test_issue_markdown_fields_are_sanitised(client, issue, field):
    set_field(issue, field, MARKDOWN_ATTACK)
    assert_clean(client, issue)


def test_section_title_is_stripped(client, issue):
    set_field(issue.sections.get(), "title", HTML_ATTACK[:200])
    assert_clean(client, issue)


def test_section_intro_is_sanitised(client, issue):
    set_field(issue.sections.get(), "intro", MARKDOWN_ATTACK)
    assert_clean(client, issue)


@pytest.mark.parametrize("field", ["title", "source"])
def test_link_plain_fields_are_stripped(client, issue, field):
    link = Link.objects.get(section__issue=issue)
    set_field(link, field, HTML_ATTACK[:100])
    assert_clean(client, issue)


def test_link_commentary_is_sanitised(client, issue):
    set_field(Link.objects.get(section__issue=issue), "commentary", MARKDOWN_ATTACK)
    assert_clean(client, issue)


def test_link_commentary_keeps_safe_markup_and_links(client, issue):
    link = Link.objects.get(section__issue=issue)
    commentary = "Read **this** [paper](https://arxiv.org/abs/1) or mail <me@x.org>"
    set_field(link, "commentary", commentary)
    email_html = render_issue(issue).html
    assert "<strong>this</strong>" in email_html
    # Through /l/, to the URL stored for the issue (tests/test_honest_clicks.py).
    prose = ProseLink.objects.get(issue=issue)
    assert prose.url == "https://arxiv.org/abs/1"
    assert f"/l/{prose_link_token(prose)}/" in email_html
    assert "mailto:" in email_html


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>x</script>"]
)
def test_a_link_url_that_is_not_http_is_refused_everywhere(client, issue, url):
    link = Link.objects.get(section__issue=issue)
    set_field(link, "url", url)
    with pytest.raises(RenderError, match="link 1: url"):
        render_issue(issue)
    page = client.get(issue.get_absolute_url())
    assert page.status_code == 404
    assert url.lower().encode() not in page.content.lower()


def test_newsletter_description_is_sanitised_on_archive_pages(client, issue):
    set_field(issue.newsletter, "description", MARKDOWN_ATTACK)
    slug = issue.newsletter.slug
    for url in (reverse("archive"), reverse("archive_newsletter", args=[slug])):
        content = client.get(url).content.decode().lower()
        assert "good" in content
        for needle in FORBIDDEN:
            assert needle not in content, f"{needle!r} in {url}"


def test_the_feed_carries_sanitised_html_only(client, issue):
    set_field(Link.objects.get(section__issue=issue), "commentary", MARKDOWN_ATTACK)
    set_field(issue.newsletter, "description", MARKDOWN_ATTACK)
    feed = client.get(reverse("feed", args=[issue.newsletter.slug])).content.decode()
    # The feed escapes its HTML once; unescaped, it must still be clean.
    content = html.unescape(feed).lower()
    assert "good" in content
    for needle in FORBIDDEN:
        assert needle not in content, needle


def test_a_new_section_with_markup_in_its_title_shows_only_the_words(client, issue):
    with drafting(issue):
        Section.objects.create(issue=issue, position=5, title="<b onmouseover=alert(1)>Bold</b>")
    rendered = render_issue(issue)
    page = client.get(issue.get_absolute_url()).content.decode()
    for content in (rendered.html, rendered.text, page):
        assert "Bold" in content
        assert "onmouseover" not in content
