"""The pre-flight: blockers that refuse a send or a schedule from the admin,
`send_issue` and the beat, and warnings the editor sees before sending."""

from datetime import timedelta
from html import unescape

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from newsletter import sending
from newsletter.curation import preflight as preflight_module
from newsletter.curation.preflight import BLOCKER, WARNING, preflight
from newsletter.emails import send_test_issue
from newsletter.models import Issue, Link
from newsletter.rendering import render_issue
from newsletter.scheduling import draft_next_issue
from tests.builders import (
    drafting,
    make_authored_issue,
    make_issue,
    make_link,
    make_newsletter,
    make_readers,
    make_sent_issue,
)
from tests.test_send_permissions import make_editor, url

pytestmark = pytest.mark.django_db


def said(report, level: str) -> list[str]:
    return [str(f) for f in report.findings if f.level == level]


@pytest.fixture
def newsletter():
    newsletter = make_newsletter()
    make_readers(newsletter, 3)
    return newsletter


@pytest.fixture
def auto_draft(newsletter):
    """What the app drafts after a send: the next number, a placeholder subject, nothing else."""
    return draft_next_issue(issue=make_sent_issue(newsletter, number=7))


@pytest.fixture
def sender(client):
    client.force_login(make_editor("publisher", can_send=True))
    return client


# -- Acceptance 2: the auto-drafted empty issue cannot go out ---------------------


def test_the_auto_draft_cannot_be_sent_now_from_the_admin(
    sender, auto_draft, mailgun, django_capture_on_commit_callbacks
):
    page = unescape(sender.get(url(auto_draft, "send")).content.decode())
    assert "must be put right before this issue can be sent" in page
    assert "The issue has no sections." in page
    assert "Subject: still the automatic draft's “ML Monthly #8”" in page.replace("</strong>", "")
    assert "Yes, send it now" not in page

    # A hand-made POST is refused all the same, naming the blockers.
    with django_capture_on_commit_callbacks(execute=True):
        response = sender.post(url(auto_draft, "send"), follow=True)
    message = unescape(response.content.decode())
    assert "Issue #8 cannot be sent: The issue has no sections." in message
    assert "Subject: still the automatic draft's “ML Monthly #8”" in message
    auto_draft.refresh_from_db()
    assert auto_draft.status == Issue.Status.DRAFT
    assert mailgun.calls == 0


def test_the_auto_draft_cannot_be_scheduled_from_the_admin(sender, auto_draft, mailgun):
    page = unescape(sender.get(url(auto_draft, "schedule")).content.decode())
    assert "The issue has no sections." in page
    assert 'value="Schedule"' not in page

    when = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = sender.post(url(auto_draft, "schedule"), {"send_at": when}, follow=True)
    assert "Issue #8 cannot be sent: The issue has no sections." in unescape(
        response.content.decode()
    )
    auto_draft.refresh_from_db()
    assert auto_draft.status == Issue.Status.DRAFT
    assert mailgun.calls == 0


def test_send_issue_now_refuses_the_auto_draft_and_names_the_blockers(auto_draft, mailgun):
    with pytest.raises(CommandError) as refused:
        call_command("send_issue", str(auto_draft.pk), "--now")
    assert "The issue has no sections" in str(refused.value)
    assert "automatic draft's “ML Monthly #8”" in str(refused.value)
    assert Issue.objects.get(pk=auto_draft.pk).status == Issue.Status.DRAFT
    assert mailgun.calls == 0


def test_the_beat_does_not_start_an_auto_draft_someone_scheduled(auto_draft, mailgun):
    Issue.objects.filter(pk=auto_draft.pk).update(
        status=Issue.Status.SCHEDULED, send_at=timezone.now() - timedelta(minutes=10)
    )
    assert sending.start_due_issues() == []
    assert Issue.objects.get(pk=auto_draft.pk).status == Issue.Status.SCHEDULED
    assert mailgun.calls == 0


def test_with_a_subject_of_its_own_and_a_link_the_auto_draft_is_ready(auto_draft):
    make_link(auto_draft, "https://example.org/a", title="A find")
    assert said(preflight(auto_draft), BLOCKER) == [
        "Subject: still the automatic draft's “ML Monthly #8”: write the one readers will see."
    ]
    auto_draft.subject = "Eight finds"
    auto_draft.save()
    assert said(preflight(auto_draft), BLOCKER) == []


def test_a_hand_made_issue_may_be_called_like_the_placeholder(newsletter):
    issue = make_issue(newsletter, number=4, subject="ML Monthly #4")
    assert said(preflight(issue), BLOCKER) == []


def test_sections_without_links_block(newsletter):
    issue = make_authored_issue(newsletter, number=2, sections=2, links=0)
    assert said(preflight(issue), BLOCKER) == ["The issue has no links."]


# -- Gmail's clip, with a reader's own links --------------------------------------


def test_the_clip_is_counted_with_the_longest_readers_links(newsletter, monkeypatch):
    issue = make_authored_issue(newsletter, number=2, sections=4, links=10)
    html = render_issue(issue).html
    # The preview's empty per-reader values, against a real reader's (a key per tracked link).
    bare = len(html.replace("[[recipient_key]]", "").encode())
    assert said(preflight(issue), BLOCKER) == []
    monkeypatch.setattr(preflight_module, "GMAIL_CLIP_BYTES", bare + 100)

    found = said(preflight(issue), BLOCKER)
    assert len(found) == 1 and "Gmail clips anything over" in found[0], found


# -- Warnings ------------------------------------------------------------------------


def test_a_test_sent_since_the_last_edit_clears_its_warning(newsletter, mailgun):
    issue = make_issue(newsletter, number=2, preheader="Small models")
    assert "No test sent yet." in said(preflight(issue), WARNING)

    send_test_issue(issue, to="proof@example.com")
    assert not [w for w in said(preflight(issue), WARNING) if "test" in w]

    # An edit of a link alone (the issue row untouched) is an edit.
    with drafting(issue):
        Link.objects.filter(section__issue=issue).update(commentary="Changed my mind.")
    assert "No test sent since the last edit." in said(preflight(issue), WARNING)


def test_warnings_say_where_they_are(newsletter):
    issue = make_issue(newsletter, number=2)
    make_link(issue, "https://example.org/second", section="Research", title="Second")

    found = said(preflight(issue), WARNING)
    assert "Preheader: empty: inboxes will show the start of the email instead." in found
    assert "Section 1 'Research' → link 2: has no commentary." in found


def test_a_link_from_an_earlier_issue_is_named_with_that_issue(newsletter):
    earlier = make_sent_issue(newsletter, number=5, subject="Spring finds")
    make_link(earlier, "https://www.example.net/post/")
    issue = make_issue(newsletter, number=6)
    with drafting(issue):
        Link.objects.filter(section__issue=issue).update(
            commentary="See also [the post](http://example.net/post?utm_source=feed&fbclid=1)."
        )
    make_link(issue, "https://example.net/other", section="Tools")  # first: position 0

    found = [w for w in said(preflight(issue), WARNING) if "already featured" in w]
    assert found == [
        "Section 2 'Research' → link 1 → commentary: "
        "http://example.net/post?utm_source=feed&fbclid=1 was already featured in "
        f"#5 “Spring finds” ({earlier.date_text})."
    ]


# -- Link checks on the confirmation page and at the beat --------------------------


def test_the_confirmation_says_links_are_still_being_checked_and_lets_the_editor_go_on(
    sender, newsletter
):
    issue = make_issue(newsletter, number=2)
    page = sender.get(url(issue, "send")).content.decode()
    assert "Still checking 1 link" in page
    assert "Yes, send it now" in page  # without waiting


def test_once_checked_the_confirmation_shows_what_the_links_answered(
    sender, newsletter, django_capture_on_commit_callbacks
):
    issue = make_issue(newsletter, number=2)
    with django_capture_on_commit_callbacks(execute=True):
        sender.get(url(issue, "send"))  # asks a worker (inline here) to check

    page = unescape(sender.get(url(issue, "send")).content.decode())
    assert "Still checking" not in page
    assert "https://example.org/paper looks dead: example.org does not resolve" in page


def test_the_beat_waits_a_few_minutes_for_link_checks(newsletter, mailgun):
    issue = make_issue(newsletter, number=2)
    send_at = timezone.now().replace(microsecond=0) + timedelta(hours=1)
    sending.issue_schedule(issue=issue, send_at=send_at)

    # The checks were asked for and have not answered (no worker ran them).
    assert sending.start_due_issues(now=send_at + timedelta(minutes=1)) == []
    assert Issue.objects.get(pk=issue.pk).status == Issue.Status.SCHEDULED

    assert sending.start_due_issues(now=send_at + timedelta(minutes=4)) == [issue]


def test_the_preview_shows_the_preflight(sender, newsletter):
    issue = make_issue(newsletter, number=2)
    page = sender.get(reverse("admin:newsletter_issue_preview", args=[issue.pk]))
    text = unescape(page.content.decode())
    assert "Pre-flight" in text and "No test sent yet." in text
