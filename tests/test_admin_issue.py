"""The editor builds and edits an issue, its sections and their links on one admin page."""

import pytest
from django.urls import reverse

from newsletter.management.commands.seed_demo import ISSUE_1
from newsletter.models import Issue, Link, Section
from newsletter.rendering import render_issue
from tests.builders import make_authored_issue, make_editor, make_field_notes_newsletter

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:newsletter_issue_add")


def change_url(issue: Issue) -> str:
    return reverse("admin:newsletter_issue_change", args=[issue.pk])


def form_data(issue: dict, sections: list[dict]) -> dict:
    """The POST body of the issue page: the issue's fields and nested formsets.

    A section or link dict may carry `id` (an existing row, listed first) and
    `DELETE`; positions are what dragging writes into the hidden fields.
    """
    data = {key: value for key, value in issue.items() if key != "pk"}
    data.update(management("sections", sections))
    for i, section in enumerate(sections):
        prefix = f"sections-{i}"
        data.update(row(prefix, section, parent=("issue", issue.get("pk"))))
        links = section.get("links", [])
        data.update(management(f"{prefix}-links", links))
        for j, link in enumerate(links):
            data.update(row(f"{prefix}-links-{j}", link, parent=("section", section.get("id"))))
    return data


def management(prefix: str, rows: list[dict]) -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(sum(1 for r in rows if r.get("id"))),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def row(prefix: str, values: dict, parent: tuple[str, int | None]) -> dict:
    data = {f"{prefix}-{parent[0]}": parent[1] or "", f"{prefix}-id": values.get("id", "")}
    for key, value in values.items():
        if key in ("links", "id"):
            continue
        data[f"{prefix}-{key}"] = "on" if key == "DELETE" else value
    return data


def existing(issue: Issue) -> tuple[dict, list[dict]]:
    """The page as the editor opens it: every field as saved."""
    fields = {
        "pk": issue.pk,
        "newsletter": issue.newsletter_id,
        "number": issue.number,
        "slug": issue.slug,
        "subject": issue.subject,
        "preheader": issue.preheader,
        "intro": issue.intro,
        "sign_off": issue.sign_off,
    }
    sections = [
        {
            "id": s.pk,
            "title": s.title,
            "intro": s.intro,
            "position": s.position,
            "links": [
                {
                    "id": link.pk,
                    "title": link.title,
                    "url": link.url,
                    "commentary": link.commentary,
                    "source": link.source,
                    "position": link.position,
                }
                for link in s.links.all()
            ],
        }
        for s in issue.sections.all()
    ]
    return fields, sections


def outline(issue: Issue) -> list[tuple[str, list[str]]]:
    return [(s.title, [link.title for link in s.links.all()]) for s in issue.sections.all()]


@pytest.fixture
def editor(client):
    user = make_editor()
    client.force_login(user)
    return user


def test_an_editor_builds_the_seed_shaped_issue_on_one_page(client, editor):
    newsletter = make_field_notes_newsletter()
    sections = [
        {
            "title": title,
            "intro": intro,
            "position": str(position),
            "links": [
                {"title": t, "url": u, "source": s, "commentary": c, "position": str(n)}
                for n, (t, u, s, c) in enumerate(links)
            ],
        }
        for position, (title, intro, links) in enumerate(ISSUE_1["sections"])
    ]
    issue = {
        "newsletter": newsletter.pk,
        "number": "1",
        "slug": "",
        **{key: ISSUE_1[key] for key in ("subject", "preheader", "intro", "sign_off")},
    }
    response = client.post(ADD_URL, form_data(issue, sections))

    assert response.status_code == 302, response.context["errors"]
    saved = Issue.objects.get(newsletter=newsletter, number=1)
    assert saved.slug == "1-the-year-css-learned-to-look-up"
    assert saved.status == Issue.Status.DRAFT
    expected = [(title, [link[0] for link in links]) for title, _, links in ISSUE_1["sections"]]
    assert outline(saved) == expected
    assert len(expected) >= 4 and sum(len(links) for _, links in expected) >= 15
    first = Link.objects.get(title=ISSUE_1["sections"][0][2][0][0])
    assert (first.url, first.source) == ISSUE_1["sections"][0][2][0][1:3]
    assert all(link.commentary for link in Link.objects.filter(section__issue=saved))
    assert "What I made" in render_issue(saved).html


def test_an_editor_reorders_edits_adds_and_deletes_on_one_page(client, editor):
    issue = make_authored_issue(make_field_notes_newsletter(), sections=2, links=3)
    fields, sections = existing(issue)
    one, two = sections
    # Drag section 2 above section 1, and link 1.3 to the top of its section.
    one["position"], two["position"] = 2, 1
    one["links"][2]["position"], one["links"][0]["position"] = 0, 3
    one["links"][1]["title"] = "Link 1.2, retitled"
    one["links"][0]["DELETE"] = True
    two["links"].append({"title": "New in 2", "url": "https://example.org/new", "position": 9})
    sections.append(
        {
            "title": "📚 Learn",
            "position": 3,
            "links": [{"title": "A course", "url": "https://example.org/course", "position": 0}],
        }
    )
    fields["subject"] = "Edited subject"

    response = client.post(change_url(issue), form_data(fields, sections))

    assert response.status_code == 302, response.context["errors"]
    issue.refresh_from_db()
    assert issue.subject == "Edited subject"
    assert outline(issue) == [
        ("Section 2", ["Link 2.1", "Link 2.2", "Link 2.3", "New in 2"]),
        ("Section 1", ["Link 1.3", "Link 1.2, retitled"]),
        ("📚 Learn", ["A course"]),
    ]
    text = render_issue(issue).text
    assert text.index("Section 2") < text.index("Section 1") < text.index("Learn")


@pytest.mark.parametrize(
    "where, field, value, message",
    [
        ("link", "url", "javascript:alert(1)", "Enter a valid URL."),
        ("link", "url", "ftp://files.example.org/paper.pdf", "must start with http"),
        ("link", "url", "", "This field is required."),
        ("section", "paste", "https://example.org/a javascript:alert(1)", "Not a web address"),
        ("section", "paste", "https://example.org/" + "a" * 2000, "Not a web address"),
        ("link", "title", "x" * 301, "at most 300 characters"),
        ("link", "source", "x" * 101, "at most 100 characters"),
        ("link", "commentary", "x" * 10001, "at most 10000 characters"),
        ("section", "title", "", "This field is required."),
        ("section", "title", "x" * 201, "at most 200 characters"),
        ("issue", "subject", "", "This field is required."),
        ("issue", "subject", "x" * 201, "at most 200 characters"),
    ],
)
def test_bad_input_gets_a_field_error_and_saves_nothing(
    client, editor, where, field, value, message
):
    issue = make_authored_issue(make_field_notes_newsletter(), sections=1, links=2)
    before = outline(issue)
    fields, sections = existing(issue)
    # Other edits on the same page must not be saved either.
    fields["preheader"] = "Changed preheader"
    sections[0]["links"][0]["title"] = "Changed title"
    sections[0]["links"].append({"title": "Another", "url": "https://example.org/", "position": 5})
    target = {"issue": fields, "section": sections[0], "link": sections[0]["links"][1]}[where]
    target[field] = value

    response = client.post(change_url(issue), form_data(fields, sections))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert "Please correct the error" in response.content.decode()
    issue.refresh_from_db()
    assert issue.preheader == ""
    assert outline(issue) == before


def test_a_duplicate_issue_number_is_refused(client, editor):
    newsletter = make_field_notes_newsletter()
    make_authored_issue(newsletter, number=1)
    issue = {"newsletter": newsletter.pk, "number": "1", "slug": "", "subject": "Again"}
    response = client.post(ADD_URL, form_data(issue, []))
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Issue.objects.count() == 1


def test_the_add_page_suggests_the_next_number_and_the_slug_follows(client, editor):
    newsletter = make_field_notes_newsletter()
    make_authored_issue(newsletter, number=6)
    page = client.get(ADD_URL).content.decode()
    assert 'name="number" value="7"' in page

    issue = {"newsletter": newsletter.pk, "number": "7", "slug": "", "subject": "Forms, again!"}
    assert client.post(ADD_URL, form_data(issue, [])).status_code == 302
    assert Issue.objects.get(number=7).slug == "7-forms-again"


def test_status_and_send_dates_are_not_set_from_the_form(client, editor):
    issue = make_authored_issue(make_field_notes_newsletter(), sections=1, links=1)
    fields, sections = existing(issue)
    fields.update(status="sent", send_at="2030-01-01 09:00", sent_at="2030-01-01 09:00")
    assert client.post(change_url(issue), form_data(fields, sections)).status_code == 302
    issue.refresh_from_db()
    assert (issue.status, issue.send_at, issue.sent_at) == (Issue.Status.DRAFT, None, None)
    page = client.get(change_url(issue)).content.decode()
    assert 'name="status"' not in page
    assert "Preview &amp; send test" in page


def test_the_issue_list_shows_and_finds_issues(client, editor):
    newsletter = make_field_notes_newsletter()
    make_authored_issue(newsletter, number=1, subject="Parent selectors", status=Issue.Status.SENT)
    issue = make_authored_issue(
        newsletter, number=2, subject="Forms that forgive", sections=1, links=1
    )
    Section.objects.filter(issue=issue).update(title="Validation")
    url = reverse("admin:newsletter_issue_changelist")

    page = client.get(url).content.decode()
    for text in ("Field Notes", "Parent selectors", "Forms that forgive", "Sent", "Draft"):
        assert text in page
    found = client.get(url, {"q": "validation"}).content.decode()
    assert "Forms that forgive" in found and "Parent selectors" not in found
    drafts = client.get(url, {"status__exact": "draft"}).content.decode()
    assert "Forms that forgive" in drafts and "Parent selectors" not in drafts


def test_staff_without_issue_permissions_cannot_edit(client):
    issue = make_authored_issue(make_field_notes_newsletter(), sections=1, links=1)
    client.force_login(make_editor("viewer", perms=()))
    fields, sections = existing(issue)
    fields["subject"] = "Hijacked"
    assert client.post(change_url(issue), form_data(fields, sections)).status_code == 403
    issue.refresh_from_db()
    assert issue.subject == "Issue number 1"


def test_the_newsletter_list_reads_the_cadence_aloud(client):
    make_field_notes_newsletter(time_zone="Europe/London")
    client.force_login(make_editor("chief", perms=("view_newsletter",)))
    page = client.get(reverse("admin:newsletter_newsletter_changelist")).content.decode()
    assert "First Tuesday of the month, 09:00 Europe/London" in page


@pytest.mark.parametrize("status", ["sending", "paused", "sent", "cancelled"])
def test_an_issue_that_went_out_cannot_be_changed_from_its_page(client, editor, status):
    issue = make_authored_issue(make_field_notes_newsletter(), sections=1, links=1)
    Issue.objects.filter(pk=issue.pk).update(status=status)
    issue.refresh_from_db()
    link = Link.objects.filter(section__issue=issue).first()
    fields, sections = existing(issue)
    sections[0]["links"][0]["url"] = "https://attacker.example/"
    fields["subject"] = "Changed after the send"

    page = client.get(change_url(issue)).content.decode()
    assert f'value="{link.url}"' not in page  # shown, not an input
    answer = client.post(change_url(issue), form_data(fields, sections), follow=True).content
    assert "has gone out: its content stays as readers got it" in answer.decode()
    assert "changed successfully" not in answer.decode()

    link.refresh_from_db()
    issue.refresh_from_db()
    assert link.url != "https://attacker.example/"
    assert issue.subject != "Changed after the send"


def test_a_scheduled_issue_can_still_be_edited(client, editor):
    issue = make_authored_issue(make_field_notes_newsletter(), sections=1, links=1)
    Issue.objects.filter(pk=issue.pk).update(status="scheduled")
    fields, sections = existing(Issue.objects.get(pk=issue.pk))
    sections[0]["links"][0]["url"] = "https://example.org/corrected"

    response = client.post(change_url(issue), form_data(fields, sections))

    assert response.status_code == 302
    assert Link.objects.filter(url="https://example.org/corrected").exists()
