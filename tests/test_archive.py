import pytest
from django.urls import reverse

from newsletter.models import Issue
from tests.builders import make_authored_issue, make_field_notes_newsletter

pytestmark = pytest.mark.django_db

S = Issue.Status


@pytest.fixture
def newsletter():
    newsletter = make_field_notes_newsletter(description="Web things, **monthly**.")
    for number, status in enumerate([S.SENT, S.SENT, S.SCHEDULED, S.DRAFT, S.CANCELLED], 1):
        make_authored_issue(
            newsletter, number, subject=f"Subject {number} ({status})", status=status
        )
    return newsletter


def test_the_archive_lists_sent_issues_newest_first(client, newsletter):
    page = client.get(reverse("archive")).content.decode()
    assert "Field Notes" in page
    assert "Web things, <strong>monthly</strong>." in page
    assert page.index("Subject 2 (sent)") < page.index("Subject 1 (sent)")
    for status in ("scheduled", "draft", "cancelled"):
        assert f"({status})" not in page


def test_a_newsletter_archive_lists_only_its_sent_issues(client, newsletter):
    make_authored_issue(
        make_field_notes_newsletter("other", name="Other"), 9, subject="Elsewhere", status=S.SENT
    )
    page = client.get(reverse("archive_newsletter", args=["field-notes"])).content.decode()
    assert page.index("#2: Subject 2 (sent)") < page.index("#1: Subject 1 (sent)")
    assert "Elsewhere" not in page
    for status in ("scheduled", "draft", "cancelled"):
        assert f"({status})" not in page
    assert reverse("feed", args=["field-notes"]) in page
    assert reverse("signup", args=["field-notes"]) in page


def test_an_issue_page_shows_the_issue(client, newsletter):
    issue = newsletter.issues.get(number=2)
    make_authored_issue(newsletter, 6, subject="Full", status=S.SENT, sections=2, links=2)
    issue = newsletter.issues.get(number=6)
    page = client.get(issue.get_absolute_url()).content.decode()
    assert "<h1>Full</h1>" in page
    assert "Issue #6" in page
    assert "Section 1" in page and "Link 2.2" in page
    assert 'href="https://example.com/articles/2/2/' in page
    assert "Hello <strong>readers</strong>." in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page


@pytest.mark.parametrize("status", [S.DRAFT, S.SCHEDULED, S.CANCELLED])
def test_unsent_issue_pages_are_not_found(client, newsletter, status):
    issue = newsletter.issues.get(status=status)
    assert client.get(issue.get_absolute_url()).status_code == 404


@pytest.mark.parametrize("status", [S.SENDING, S.PAUSED])
def test_an_issue_page_opens_once_its_send_has_begun(client, newsletter, status):
    # Readers get the "view in your browser" link while the send is under way.
    issue = make_authored_issue(newsletter, 7, subject="Going out now", status=status)
    assert client.get(issue.get_absolute_url()).status_code == 200
    archive = client.get(reverse("archive_newsletter", args=["field-notes"])).content.decode()
    assert "Going out now" not in archive


def test_a_private_newsletter_has_no_archive_but_its_issues_open(client, newsletter):
    newsletter.is_public = False
    newsletter.save()
    assert client.get(reverse("archive_newsletter", args=["field-notes"])).status_code == 404
    assert "Field Notes" not in client.get(reverse("archive")).content.decode()
    issue = newsletter.issues.get(number=1)
    assert client.get(issue.get_absolute_url()).status_code == 200


def test_unknown_newsletters_and_issues_are_not_found(client, newsletter):
    assert client.get(reverse("archive_newsletter", args=["nope"])).status_code == 404
    assert client.get(reverse("issue_web", args=["field-notes", "99-nope"])).status_code == 404
    assert client.get(reverse("issue_web", args=["nope", "1-subject-1-sent"])).status_code == 404
