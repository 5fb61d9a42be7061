"""One date for an issue, written one way, in its email, web page, archive and feed."""

from datetime import UTC, datetime

import feedparser
import pytest
from django.urls import reverse
from freezegun import freeze_time

from newsletter import sending
from tests.builders import make_issue, make_newsletter, make_readers

pytestmark = pytest.mark.django_db


def test_an_issue_sent_a_day_early_shows_the_same_date_everywhere(
    client, mailgun, django_capture_on_commit_callbacks
):
    newsletter = make_newsletter()
    make_readers(newsletter, 2)
    # Planned for Tuesday 1 December, sent the evening before with "Send now".
    issue = make_issue(newsletter, number=8, send_at=datetime(2026, 12, 1, 9, tzinfo=UTC))
    with freeze_time(datetime(2026, 11, 30, 18, tzinfo=UTC)):
        with django_capture_on_commit_callbacks(execute=True):
            sending.issue_send_now(issue=issue)
    issue.refresh_from_db()
    assert issue.status == "sent"

    assert "ISSUE #8 · 30 NOVEMBER 2026" in mailgun.messages[0].html
    web = client.get(issue.get_absolute_url()).content.decode()
    assert "Issue #8 · 30 November 2026" in web
    archive = client.get(reverse("archive_newsletter", args=[newsletter.slug])).content.decode()
    assert "30 November 2026" in archive and "December" not in archive
    assert "30 November 2026" in client.get(reverse("archive")).content.decode()
    feed = feedparser.parse(client.get(reverse("feed", args=[newsletter.slug])).content)
    assert feed.entries[0].published_parsed[:3] == (2026, 11, 30)


def test_the_date_is_the_newsletters_day_not_utcs(
    client, mailgun, django_capture_on_commit_callbacks
):
    newsletter = make_newsletter(time_zone="Europe/London")
    make_readers(newsletter, 1)
    issue = make_issue(newsletter, number=3)
    # 23:30 UTC on 31 May is 00:30 on 1 June in London (BST).
    with freeze_time(datetime(2026, 5, 31, 23, 30, tzinfo=UTC)):
        with django_capture_on_commit_callbacks(execute=True):
            sending.issue_send_now(issue=issue)

    assert "ISSUE #3 · 1 JUNE 2026" in mailgun.messages[0].html
    assert "Issue #3 · 1 June 2026" in client.get(issue.get_absolute_url()).content.decode()
