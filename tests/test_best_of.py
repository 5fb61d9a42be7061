"""The editor's "best of YEAR" issue: drafted from the year's most-clicked
links (readers' clicks only) as an ordinary draft to edit, from the
newsletter's admin page."""

import pytest
from django.urls import reverse

from newsletter.models import Click, Issue, Link
from newsletter.scheduling import draft_next_issue
from tests.builders import (
    EDITOR_PERMS,
    make_editor,
    make_field_notes_newsletter,
    make_link,
    make_sent_issue,
)
from tests.helpers import mid_month

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(client):
    client.force_login(make_editor(perms=(*EDITOR_PERMS, "view_newsletter", "change_newsletter")))
    return client


@pytest.fixture
def notes(db):
    """2025's issue, one link clicked once; 2026's, three links clicked by readers and scanners."""
    notes = make_field_notes_newsletter()
    old = make_sent_issue(notes, 1, subject="Last year", sent_at=mid_month(2025))
    new = make_sent_issue(notes, 2, subject="This year", sent_at=mid_month(2026))
    for title, humans, scanners in (("Ferns", 3, 0), ("Mosses", 7, 0), ("Lichens", 0, 40)):
        link = make_link(new, f"https://example.org/{title.lower()}", title=title)
        Link.objects.filter(pk=link.pk).update(source="Botany", commentary=f"All about {title}.")
        for kind, count in ((Click.Kind.HUMAN, humans), (Click.Kind.SCANNER, scanners)):
            Click.objects.bulk_create([Click(link=link, kind=kind) for _ in range(count)])
    last = make_link(old, "https://example.org/roots", title="Roots")
    Click.objects.create(link=last, kind=Click.Kind.HUMAN)
    return notes


def draft(client, notes, year) -> object:
    url = reverse("admin:newsletter_newsletter_best_of_draft", args=[notes.pk])
    return client.post(url, {"year": year})


def test_the_newsletter_page_leads_to_the_best_of_page(editor, notes):
    page = editor.get(reverse("admin:newsletter_newsletter_change", args=[notes.pk]))
    best_of = reverse("admin:newsletter_newsletter_best_of", args=[notes.pk])
    assert best_of in page.content.decode()
    listing = editor.get(best_of).content.decode()
    assert listing.index("<h2>2026</h2>") < listing.index("<h2>2025</h2>")
    assert listing.index("Mosses") < listing.index("Ferns")
    assert "Lichens" not in listing  # scanners only
    assert "Draft “The best of 2026”" in listing


def test_it_drafts_the_years_most_clicked_links_in_click_order(editor, notes):
    response = draft(editor, notes, 2026)
    issue = Issue.objects.get(newsletter=notes, subject="The best of 2026")
    assert response["Location"] == reverse("admin:newsletter_issue_change", args=[issue.pk])
    assert issue.status == Issue.Status.DRAFT and issue.number == 3
    [section] = issue.sections.all()
    assert section.title == "Most clicked in 2026"
    links = list(section.links.order_by("position"))
    assert [(link.title, link.source, link.commentary) for link in links] == [
        ("Mosses", "Botany", "All about Mosses."),
        ("Ferns", "Botany", "All about Ferns."),
    ]
    assert "A look back at 2026" in issue.intro
    # A copy: the sent issue keeps its links.
    assert Link.objects.filter(title="Mosses").count() == 2


def test_it_fills_the_empty_draft_made_after_the_last_send(editor, notes):
    waiting = draft_next_issue(issue=notes.issues.get(number=2))
    draft(editor, notes, 2026)
    waiting.refresh_from_db()
    assert waiting.subject == "The best of 2026"
    assert waiting.sections.get().links.count() == 2
    assert not Issue.objects.filter(number=4).exists()


def test_it_speaks_the_newsletters_language_where_a_catalogue_has_the_words(editor, notes):
    notes.language = "de"
    notes.save()
    draft(editor, notes, 2025)
    issue = Issue.objects.get(newsletter=notes, number=3)
    # Translated once the German catalogue has these words; never left empty.
    assert "2025" in issue.subject and "2025" in issue.sections.get().title


@pytest.mark.parametrize(
    "year, message",
    [
        ("2024", "No reader clicked a link of 2024&#x27;s issues: there is nothing to pick from."),
        ("abc", "Pick a year from the list."),
        ("", "Pick a year from the list."),
    ],
)
def test_a_year_without_readers_clicks_makes_nothing(editor, notes, year, message):
    response = draft(editor, notes, year)
    assert response["Location"] == reverse("admin:newsletter_newsletter_best_of", args=[notes.pk])
    assert not Issue.objects.filter(number=3).exists()
    assert message in editor.get(response["Location"]).content.decode()


def test_it_needs_the_permission_to_add_issues(client, notes):
    client.force_login(make_editor("viewer", perms=("view_issue", "change_newsletter")))
    assert draft(client, notes, 2026).status_code == 403
    assert not Issue.objects.filter(number=3).exists()


def test_a_get_drafts_nothing(editor, notes):
    url = reverse("admin:newsletter_newsletter_best_of_draft", args=[notes.pk])
    assert editor.get(url, {"year": 2026}).status_code == 405
    assert not Issue.objects.filter(number=3).exists()
