import re

import pytest
from django.core.exceptions import ValidationError

from mail.messages import personalize
from mail.rendering import RenderError
from newsletter.emails import values_for_address
from newsletter.models import Issue, Link, Newsletter, Section
from newsletter.rendering import GMAIL_CLIP_BYTES, render_issue
from tests.builders import make_authored_issue, make_field_notes_newsletter

pytestmark = pytest.mark.django_db


@pytest.fixture
def big_issue():
    """60 links, each with a paragraph of commentary: a long month."""
    return make_authored_issue(make_field_notes_newsletter(), sections=4, links=15)


def test_it_renders_sixty_links_under_gmail_clipping_size(big_issue):
    rendered = render_issue(big_issue)
    # What a reader receives, with their (long, signed) links filled in.
    html = personalize(rendered.html, values_for_address(big_issue.newsletter, to="a@example.com"))
    size = len(html.encode())
    assert size < GMAIL_CLIP_BYTES, f"{size} bytes"
    assert html.count("Link 4.15") == 1


def test_its_text_part_has_every_link_title_and_url(big_issue):
    text = render_issue(big_issue).text
    links = Link.objects.filter(section__issue=big_issue)
    assert links.count() == 60
    for link in links:
        assert link.title in text
        assert link.url in text
    # Links inside commentary are spelled out, not lost (a line may wrap before one).
    assert "the notes (https://example.org/notes)" in " ".join(text.split())
    assert "<" not in text


def test_its_text_part_reads_in_a_mail_program(big_issue, settings):
    Issue.objects.filter(pk=big_issue.pk).update(started_at="2025-03-04T09:00:00Z")
    values = values_for_address(big_issue.newsletter, to="a@example.com")
    text = personalize(render_issue(big_issue).text, values)
    lines = text.split("\n")
    # 78 columns, and a URL is never broken: only a line that is one URL is longer.
    for line in lines:
        assert len(line) <= 78 or line.strip().startswith(settings.SITE_URL), line
    assert "Field Notes · Issue #1 · 4 March 2025" in lines[0]
    assert "-- " in lines  # the signature delimiter mail programs recognise
    # Commentary sits under its link, indented like the link's URL.
    at = lines.index("* Link 1.1 (Example blog)")
    assert lines[at + 1].startswith("  https://example.com/articles/1/1/")
    assert lines[at + 3].startswith("  A careful walkthrough")
    assert lines[at + 4].startswith("  authors admit to")


def test_mjml_leaves_no_tags_or_errors_behind(big_issue):
    html = render_issue(big_issue).html
    assert html.startswith("<!doctype html>")
    assert "<mj-" not in html
    assert "MJML" not in html


def test_it_carries_per_reader_placeholders_and_an_absolute_web_link(big_issue, settings):
    rendered = render_issue(big_issue)
    web_url = f"{settings.SITE_URL}/archive/field-notes/{big_issue.slug}/"
    for part in (rendered.html, rendered.text):
        assert "[[unsubscribe_url]]" in part
        assert "[[preferences_url]]" in part
        assert "14 Marlowe Yard" in part
    assert f'href="{web_url}"' in rendered.html
    assert web_url in rendered.text


def test_it_shows_subject_preheader_and_sections_in_order():
    issue = make_authored_issue(
        make_field_notes_newsletter(), subject="Big month", preheader="Read me first"
    )
    for position, title in [(2, "Learn"), (0, "What I made"), (1, "Research")]:
        Section.objects.create(issue=issue, position=position, title=title)
    rendered = render_issue(issue)
    assert rendered.subject == "Big month"
    assert rendered.preheader == "Read me first"
    order = [rendered.text.index(t) for t in ("## What I made", "## Research", "## Learn")]
    assert order == sorted(order)
    assert "Read me first" in rendered.html


def test_it_names_siblings_in_the_footer_with_a_line_about_each(settings):
    newsletter = make_field_notes_newsletter(organisation="Marlowe Press")
    newsletter.siblings.add(
        make_field_notes_newsletter("ml", name="ML Monthly", tagline="Machine learning, monthly.")
    )
    rendered = render_issue(make_authored_issue(newsletter, sections=1, links=1))
    assert "More from Marlowe Press" in rendered.html
    assert "ML Monthly</a>: Machine learning, monthly." in rendered.html
    assert (
        "More from Marlowe Press:\n- ML Monthly: Machine learning, monthly.\n"
        f"  {settings.SITE_URL}/subscribe/ml/\n"
    ) in rendered.text
    # Without an organisation, the sender speaks for it.
    Newsletter.objects.filter(pk=newsletter.pk).update(organisation="")
    assert "More from Mara" in render_issue(newsletter.issues.get()).html


def test_it_reuses_the_render_until_a_link_changes(django_assert_max_num_queries):
    issue = make_authored_issue(make_field_notes_newsletter(), sections=2, links=3)
    first = render_issue(issue)
    with django_assert_max_num_queries(6):  # a few small reads, not a render
        assert render_issue(issue) == first
    # Changed by an update(), as a worker filling a link in does: seen all the same.
    Link.objects.filter(title="Link 1.1").update(title="Sneaky edit")
    assert "Sneaky edit" in render_issue(issue).text

    link = Link.objects.get(title="Link 2.2")
    link.title = "A better title"
    link.save()
    again = render_issue(Issue.objects.get(pk=issue.pk))
    assert "A better title" in again.html
    assert "A better title" in again.text
    assert "Sneaky edit" in again.text


def test_it_renders_again_when_a_link_or_section_is_deleted_or_added():
    issue = make_authored_issue(make_field_notes_newsletter(), sections=2, links=2)
    assert "Link 2.2" in render_issue(issue).text
    Link.objects.get(title="Link 2.2").delete()
    assert "Link 2.2" not in render_issue(issue).text
    Section.objects.get(title="Section 1").delete()
    assert "Link 1.1" not in render_issue(issue).text
    Section.objects.create(issue=issue, position=9, title="Late addition")
    assert "Late addition" in render_issue(issue).text


def test_it_renders_again_when_the_newsletter_changes():
    issue = make_authored_issue(make_field_notes_newsletter(), sections=1, links=1)
    render_issue(issue)
    issue.newsletter.postal_address = "PO Box 7, Leeds"
    issue.newsletter.save()
    assert "PO Box 7, Leeds" in render_issue(issue).text


def test_a_render_error_names_the_section_link_and_field():
    issue = make_authored_issue(make_field_notes_newsletter(), sections=2, links=3)
    Section.objects.filter(title="Section 2").update(title="Research")
    # Saved without the form's validation, as a script or an old row could.
    Link.objects.filter(title="Link 2.3").update(url="javascript:alert(1)")
    with pytest.raises(RenderError) as error:
        render_issue(issue)
    message = str(error.value)
    assert re.search(r"Section 2 'Research' → link 3: url: .*http", message), message


def test_a_missing_postal_address_is_a_render_error():
    issue = make_authored_issue(make_field_notes_newsletter(postal_address=""), sections=1, links=1)
    with pytest.raises(RenderError, match="postal address"):
        render_issue(issue)


def test_it_renders_again_when_the_send_date_is_set_without_a_save():
    issue = make_authored_issue(make_field_notes_newsletter(), sections=1, links=1)
    assert "ISSUE #1<" in render_issue(issue).html.replace("</div>", "<")
    Issue.objects.filter(pk=issue.pk).update(send_at="2031-03-04T09:00:00Z")
    assert "ISSUE #1 · 4 MARCH 2031" in render_issue(issue).html


@pytest.mark.django_db
def test_it_makes_no_request_to_a_font_service_when_the_email_is_opened():
    html = render_issue(
        make_authored_issue(make_field_notes_newsletter(), sections=2, links=3)
    ).html
    assert "fonts.googleapis.com" not in html
    assert "<link" not in html


def test_its_look_and_structure_survive_a_client_that_drops_style_elements(big_issue):
    html = render_issue(big_issue).html
    assert '<meta name="color-scheme" content="light dark" />' in html
    assert "<!--[if mso]><style>" in html  # Outlook's font fallback
    bare = re.sub(r"<style[^>]*>.*?</style>", "", html, flags=re.S)
    assert re.search(r"<h1 [^>]*>Issue number 1</h1>", bare)
    assert len(re.findall(r"<h2 [^>]*>Section \d</h2>", bare)) == 4
    title = re.search(r'<a class="link-title" [^>]*style="([^"]+)">Link 1\.1</a>', bare)
    assert title and "color:#0b6e69" in title.group(1) and "font-weight:700" in title.group(1)
    source = re.search(r'<span class="source" style="([^"]+)">· Example blog</span>', bare)
    assert source and "color:#5f6368" in source.group(1)


def test_the_preheader_is_hidden_without_white_text():
    issue = make_authored_issue(make_field_notes_newsletter(), preheader="Three papers.")
    html = render_issue(issue).html
    [hidden] = re.findall(r'<div style="([^"]*)">Three papers\.</div>', html)
    assert "display:none" in hidden and "mso-hide:all" in hidden
    assert "color" not in hidden and "font-size" not in hidden  # SpamAssassin's low contrast


@pytest.mark.parametrize("colour", ["#ffcc00", "#8ab4f8", "#999999"])
def test_an_accent_colour_too_light_to_read_on_white_is_refused(colour):
    newsletter = make_field_notes_newsletter()
    newsletter.accent_colour = colour
    with pytest.raises(ValidationError, match=f"{colour} on white has a contrast of"):
        newsletter.full_clean()
    newsletter.accent_colour = "#1a73e8"  # the default: 4.5:1
    newsletter.full_clean()
