"""A sent issue's content stays as readers got it: refused below the admin too,
and corrected only on purpose, with the permission, on the record."""

import pytest
from django.urls import reverse

from mail.tokens import link_token
from newsletter.models import Issue, IssueFrozen, Link, LinkCorrection, Newsletter, Section
from tests.builders import (
    EDITOR_PERMS,
    make_authored_issue,
    make_editor,
    make_field_notes_newsletter,
)

pytestmark = pytest.mark.django_db

GOING_OUT = ["sending", "paused", "sent", "cancelled"]


def issue_in(status: str, number: int = 1) -> Issue:
    newsletter = Newsletter.objects.first() or make_field_notes_newsletter()
    issue = make_authored_issue(newsletter, number, sections=1, links=2)
    Issue.objects.filter(pk=issue.pk).update(status=status)
    return Issue.objects.get(pk=issue.pk)


def correct_url(issue: Issue, link: Link) -> str:
    return reverse("admin:newsletter_issue_correct_link", args=[issue.pk, link.pk])


@pytest.mark.parametrize("status", GOING_OUT)
def test_no_code_path_can_change_what_readers_got(status):
    issue = issue_in(status)
    link = Link.objects.filter(section__issue=issue).first()
    section = link.section
    before = [(lnk.pk, lnk.url, lnk.title) for lnk in Link.objects.filter(section__issue=issue)]

    link.url = "https://attacker.example/"
    with pytest.raises(IssueFrozen):
        link.save()
    with pytest.raises(IssueFrozen):
        link.delete()
    with pytest.raises(IssueFrozen):
        Link.objects.create(section=section, title="Slipped in", url="https://example.org/x")
    with pytest.raises(IssueFrozen):
        Section.objects.create(issue=issue, title="Late section")
    with pytest.raises(IssueFrozen):
        section.delete()
    issue.subject = "Changed after the send"
    with pytest.raises(IssueFrozen):
        issue.save()

    after = [(lnk.pk, lnk.url, lnk.title) for lnk in Link.objects.filter(section__issue=issue)]
    assert after == before
    assert Issue.objects.get(pk=issue.pk).subject != "Changed after the send"
    assert Section.objects.filter(issue=issue).count() == 1


def test_no_way_round_the_freeze_through_a_draft_or_back_to_draft():
    sent = issue_in("sent", 1)
    draft = issue_in("draft", 2)
    link = Link.objects.filter(section__issue=sent).first()
    section = Section.objects.get(issue=sent)

    link.section = Section.objects.get(issue=draft)  # out of the sent issue, to edit it there
    with pytest.raises(IssueFrozen):
        link.save()
    section.issue = draft
    with pytest.raises(IssueFrozen):
        section.save()
    sent.status = Issue.Status.DRAFT  # and edit it as a draft
    with pytest.raises(IssueFrozen):
        sent.save()
    assert Link.objects.get(pk=link.pk).section.issue_id == sent.pk
    assert Section.objects.get(pk=section.pk).issue_id == sent.pk
    assert Issue.objects.get(pk=sent.pk).status == "sent"


def test_a_frozen_issue_still_moves_along_its_life():
    issue = issue_in("sending")
    issue.sent_at = issue.created
    issue.status = Issue.Status.SENT
    issue.save()  # bookkeeping, not content
    assert Issue.objects.get(pk=issue.pk).status == "sent"


def test_drafts_and_scheduled_issues_stay_editable():
    for number, status in enumerate(("draft", "scheduled"), start=1):
        issue = issue_in(status, number)
        link = Link.objects.filter(section__issue=issue).first()
        link.url = "https://example.org/better"
        link.save()
        Section.objects.create(issue=issue, title="Another")
        issue.subject = "Better subject"
        issue.save()
        assert Link.objects.get(pk=link.pk).url == "https://example.org/better"


def test_without_the_permission_there_is_no_way_to_correct(client):
    issue = issue_in("sent")
    link = Link.objects.filter(section__issue=issue).first()
    client.force_login(make_editor(perms=(*EDITOR_PERMS, "send_issue")))

    page = client.get(reverse("admin:newsletter_issue_change", args=[issue.pk])).content.decode()
    assert "Correct this link" not in page
    response = client.post(
        correct_url(issue, link), {"url": "https://attacker.example/", "reason": "why not"}
    )
    assert response.status_code == 403
    assert Link.objects.get(pk=link.pk).url == link.url
    assert not LinkCorrection.objects.exists()


def test_an_editor_corrects_a_sent_link_on_the_record(client):
    issue = issue_in("sent")
    link = Link.objects.filter(section__issue=issue).first()
    old_url = link.url
    editor = make_editor("chief", perms=(*EDITOR_PERMS, "correct_link"))
    client.force_login(editor)
    change_page = reverse("admin:newsletter_issue_change", args=[issue.pk])

    assert correct_url(issue, link) in client.get(change_page).content.decode()
    # Bad input: a clear message, nothing changed.
    for url, reason, message in [
        ("javascript:alert(1)", "moved", "Enter a valid URL"),
        ("https://example.org/new-home", "", "This field is required"),
        (old_url, "same", "already points there"),
    ]:
        response = client.post(correct_url(issue, link), {"url": url, "reason": reason})
        assert response.status_code == 200
        assert message in response.content.decode()
    assert Link.objects.get(pk=link.pk).url == old_url

    response = client.post(
        correct_url(issue, link),
        {"url": "https://example.org/new-home", "reason": "The page moved"},
    )
    assert response.status_code == 302
    # The copies already in inboxes now lead to the corrected page.
    click = client.get(f"/l/{link_token(link)}/")
    assert click["Location"] == "https://example.org/new-home"
    record = client.get(change_page).content.decode()
    assert "chief changed" in record
    assert old_url in record and "https://example.org/new-home" in record
    assert "The page moved" in record
    correction = LinkCorrection.objects.get()
    assert (correction.old_url, correction.corrected_by) == (old_url, editor)


def test_a_draft_is_edited_directly_not_corrected(client):
    issue = issue_in("draft")
    link = Link.objects.filter(section__issue=issue).first()
    client.force_login(make_editor(perms=(*EDITOR_PERMS, "correct_link")))
    response = client.get(correct_url(issue, link))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:newsletter_issue_change", args=[issue.pk])
