"""The issue page as a workbench: links pasted and titled from their pages,
moved in from the inbox; Preview and Send save first; two editors on one
draft; the number and the last issue's structure filled in; a sent issue's stats."""

import json
import re

import pytest
from django.urls import reverse

from newsletter.admin_writing import version_of
from newsletter.models import InboxLink, Issue, Link
from tests.builders import (
    make_authored_issue,
    make_editor,
    make_field_notes_newsletter,
    make_newsletter,
    make_sent_issue,
)
from tests.page_site import json_ld_page, opengraph_page
from tests.test_admin_issue import change_url, existing, form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(client):
    user = make_editor(perms=None)
    client.force_login(user)
    return user


def opened(issue: Issue) -> tuple[dict, list[dict]]:
    """The page as it was opened, with the version it carries."""
    fields, sections = existing(issue)
    issue.refresh_from_db()
    return {**fields, "version": version_of(issue.updated)}, sections


def test_links_pasted_into_a_section_arrive_titled_from_their_pages(client, editor, pages, post):
    issue = make_authored_issue(make_field_notes_newsletter(), sections=1, links=1)
    one = pages.add("/one", opengraph_page("Small models, big wins", "The Gradient", "Why."))
    two = pages.add("/two", json_ld_page("A benchmark that measures", "Daily Tensor", "How."))
    fields, sections = opened(issue)
    sections[0]["paste"] = f"{one}\n{two}\n"

    response = post(change_url(issue), form_data(fields, sections))

    assert response.status_code == 302
    links = list(issue.sections.get().links.all())
    assert [(link.title, link.source, link.summary) for link in links[1:]] == [
        ("Small models, big wins", "The Gradient", "Why."),
        ("A benchmark that measures", "Daily Tensor", "How."),
    ]
    positions = [link.position for link in links]
    assert positions == sorted(set(positions))  # after the link already there, in paste order


def test_a_link_row_with_its_url_only_is_titled_and_keeps_the_title_on_the_next_save(
    client, editor, pages, post
):
    issue = make_authored_issue(make_field_notes_newsletter(), sections=1, links=0)
    url = pages.add("/one", opengraph_page("Small models, big wins", "The Gradient", "Why."))
    fields, sections = opened(issue)
    sections[0]["links"] = [{"url": url, "commentary": "Read it.", "position": "1"}]
    assert post(change_url(issue), form_data(fields, sections)).status_code == 302
    link = Link.objects.get(url=url)
    assert (link.title, link.source) == ("Small models, big wins", "The Gradient")

    # The page the editor saves next was shown before the title arrived: blank stays filled.
    fields, sections = opened(issue)
    sections[0]["links"][0].update(title="", source="", commentary="Read it twice.")
    assert post(change_url(issue), form_data(fields, sections)).status_code == 302
    link.refresh_from_db()
    assert (link.title, link.source, link.commentary) == (
        "Small models, big wins",
        "The Gradient",
        "Read it twice.",
    )
    assert pages.asked == ["/one"]  # the URL did not change: not read again


def test_the_second_of_two_editors_is_told_and_overwrites_nothing(client, editor):
    issue = make_authored_issue(make_field_notes_newsletter(), sections=1, links=1)
    mine, my_sections = opened(issue)
    theirs, their_sections = opened(issue)

    theirs["subject"] = "Their subject"
    assert client.post(change_url(issue), form_data(theirs, their_sections)).status_code == 302
    mine["subject"] = "My subject"
    my_sections[0]["links"][0]["title"] = "My link title"
    response = client.post(change_url(issue), form_data(mine, my_sections))

    assert response.status_code == 200
    assert "Someone else saved this issue" in response.content.decode()
    issue.refresh_from_db()
    assert issue.subject == "Their subject"
    assert issue.sections.get().links.get().title == "Link 1.1"
    # The page now carries the version it was told about: saving again is deliberate.
    again = response.context["adminform"].form.data
    assert client.post(change_url(issue), again).status_code == 302
    issue.refresh_from_db()
    assert issue.subject == "My subject"


@pytest.mark.parametrize("target, where", [("preview", "preview"), ("send", "sending/send")])
def test_preview_and_send_save_the_page_first(client, editor, target, where):
    issue = make_authored_issue(make_field_notes_newsletter(), sections=1, links=1)
    fields, sections = opened(issue)
    fields["subject"] = "A subject not saved before"

    response = client.post(
        change_url(issue), {**form_data(fields, sections), "_continue_to": target}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/admin/newsletter/issue/{issue.pk}/{where}/"
    issue.refresh_from_db()
    assert issue.subject == "A subject not saved before"


def test_a_save_first_that_fails_stops_on_the_page_and_says_why(client, editor):
    issue = make_authored_issue(make_field_notes_newsletter(), sections=1, links=1)
    fields, sections = opened(issue)
    fields["subject"] = ""
    response = client.post(
        change_url(issue), {**form_data(fields, sections), "_continue_to": "preview"}
    )
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()


def test_an_unknown_continue_target_is_an_ordinary_save(client, editor):
    issue = make_authored_issue(make_field_notes_newsletter(), sections=1, links=1)
    fields, sections = opened(issue)
    data = {**form_data(fields, sections), "_continue_to": "https://evil.example/"}
    response = client.post(change_url(issue), data)
    assert response["Location"] == reverse("admin:newsletter_issue_changelist")


def test_the_editor_moves_inbox_links_into_sections(client, editor):
    issue = make_authored_issue(make_field_notes_newsletter(), sections=2, links=1)
    first, second = issue.sections.all()
    inbox = [
        InboxLink.objects.create(
            newsletter=issue.newsletter, url=f"https://e.org/{n}", url_key=str(n), title=f"Kept {n}"
        )
        for n in range(3)
    ]
    elsewhere = InboxLink.objects.create(
        newsletter=make_newsletter(), url="https://e.org/x", url_key="x", title="Not ours"
    )
    page = client.get(change_url(issue)).content.decode()
    assert "Link inbox · 3 links collected" in page and "Not ours" not in page

    fields, sections = opened(issue)
    data = {
        **form_data(fields, sections),
        f"inbox-{inbox[0].pk}": str(second.pk),
        f"inbox-{inbox[2].pk}": str(first.pk),
        f"inbox-{elsewhere.pk}": str(first.pk),  # another newsletter's: left alone
    }
    assert client.post(change_url(issue), data).status_code == 302
    assert [link.title for link in first.links.all()] == ["Link 1.1", "Kept 2"]
    assert [link.title for link in second.links.all()] == ["Link 2.1", "Kept 0"]
    assert set(InboxLink.objects.values_list("title", flat=True)) == {"Kept 1", "Not ours"}


def test_the_number_follows_the_newsletter_picked(client, editor):
    ml, notes = make_newsletter(), make_field_notes_newsletter()
    make_authored_issue(notes, number=6)
    page = client.get(reverse("admin:newsletter_issue_add")).content.decode()
    numbers = re.search(r'<script id="next-numbers" type="application/json">(.*?)</script>', page)
    assert json.loads(numbers.group(1)) == {str(ml.pk): 1, str(notes.pk): 7}


def test_a_new_issue_starts_from_the_last_ones_structure(client, editor):
    notes = make_field_notes_newsletter()
    last = make_authored_issue(notes, number=6, sections=3, links=2, sign_off="Until next time.")
    response = client.post(reverse("admin:newsletter_issue_from_last", args=[notes.pk]))

    new = Issue.objects.get(newsletter=notes, number=7)
    assert response["Location"] == change_url(new)
    assert [s.title for s in new.sections.all()] == ["Section 1", "Section 2", "Section 3"]
    assert (new.intro, new.sign_off) == (last.intro, "Until next time.")
    assert not Link.objects.filter(section__issue=new).exists()
    assert new.status == Issue.Status.DRAFT


def test_a_sent_issues_page_links_to_its_stats(client, editor):
    sent = make_sent_issue(make_field_notes_newsletter())
    page = client.get(change_url(sent)).content.decode()
    assert f'href="/admin/newsletter/issue/{sent.pk}/stats/">Stats</a>' in page
