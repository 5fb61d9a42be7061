import feedparser
import pytest
from django.urls import reverse

from newsletter.models import Issue
from tests.builders import make_authored_issue, make_field_notes_newsletter

pytestmark = pytest.mark.django_db

S = Issue.Status


@pytest.fixture
def newsletter():
    newsletter = make_field_notes_newsletter(description="Web things, monthly.")
    for number, status in enumerate([S.SENT, S.SENT, S.SENDING, S.SCHEDULED, S.DRAFT], 1):
        make_authored_issue(
            newsletter, number, subject=f"Subject {number}", status=status, sections=1, links=2
        )
    return newsletter


def fetch(client, slug="field-notes"):
    response = client.get(reverse("feed", args=[slug]))
    return response, feedparser.parse(response.content)


def test_the_feed_is_atom_and_lists_only_sent_issues(client, newsletter):
    response, feed = fetch(client)
    assert response["Content-Type"].startswith("application/atom+xml")
    assert feed.version == "atom10"
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == "Field Notes"
    assert feed.feed.subtitle == "Web things, monthly."
    assert [entry.title for entry in feed.entries] == ["#2: Subject 2", "#1: Subject 1"]


def test_entries_link_to_the_web_page_and_carry_the_issue(client, newsletter):
    _, feed = fetch(client)
    entry = feed.entries[0]
    issue = newsletter.issues.get(number=2)
    assert entry.link == "http://testserver" + issue.get_absolute_url()
    assert client.get(entry.link).status_code == 200
    [content] = entry.content
    assert content.type == "text/html"  # the full issue, in <content>, not <summary>
    assert "Link 1.2" in content.value
    assert "https://example.com/articles/1/2/" in content.value
    assert b"<summary" not in fetch(client)[0].content
    assert entry.author == "Mara"
    assert entry.published_parsed is not None


def test_an_unknown_or_private_newsletter_has_no_feed(client, newsletter):
    assert fetch(client, "nope")[0].status_code == 404
    newsletter.is_public = False
    newsletter.save()
    assert fetch(client)[0].status_code == 404


def test_a_newsletter_with_nothing_sent_has_an_empty_feed(client):
    make_authored_issue(make_field_notes_newsletter("quiet"), 1, status=S.DRAFT)
    response, feed = fetch(client, "quiet")
    assert response.status_code == 200
    assert feed.version == "atom10"
    assert feed.entries == []


def test_the_archive_and_issue_pages_announce_the_feed(client, newsletter):
    href = reverse("feed", args=["field-notes"])
    feed = f'<link rel="alternate" type="application/atom+xml" title="Field Notes" href="{href}">'
    issue = newsletter.issues.get(number=2)
    for page in (newsletter.get_absolute_url(), issue.get_absolute_url()):
        assert feed in client.get(page).content.decode(), page


def links_of(feed) -> dict[str, str]:
    return {link.rel: link.href for link in feed.feed.links}


def test_the_feed_carries_the_newest_twenty_and_links_to_the_rest(client, newsletter):
    for number in range(10, 30):  # 22 sent issues in all
        make_authored_issue(newsletter, number, subject=f"Subject {number}", status=S.SENT)
    path = "http://testserver" + reverse("feed", args=["field-notes"])
    response, feed = fetch(client)
    assert not feed.bozo, feed.get("bozo_exception")
    assert len(feed.entries) == 20
    assert feed.entries[0].title == "#29: Subject 29"
    assert links_of(feed) == {
        "alternate": "http://testserver/archive/field-notes/",
        "self": path,
        "first": path,
        "next": f"{path}?page=2",
        "last": f"{path}?page=2",
    }

    response = client.get(links_of(feed)["next"])
    older = feedparser.parse(response.content)
    assert [entry.title for entry in older.entries] == ["#2: Subject 2", "#1: Subject 1"]
    assert links_of(older) == {
        "alternate": "http://testserver/archive/field-notes/",
        "self": f"{path}?page=2",
        "first": path,
        "previous": path,
        "last": f"{path}?page=2",
    }


def test_a_feed_of_one_page_links_to_no_other(client, newsletter):
    _, feed = fetch(client)
    assert "next" not in links_of(feed) and "previous" not in links_of(feed)


@pytest.mark.parametrize("page", ["2", "0", "x", "9" * 5000])
def test_a_feed_page_that_is_not_there_is_a_404(client, newsletter, page):
    assert client.get(reverse("feed", args=["field-notes"]), {"page": page}).status_code == 404
