"""The admin stats page of an issue, and the subscriber-growth chart."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission, User
from freezegun import freeze_time

from newsletter.engagement.stats import growth_points
from subscribers.models import Subscription
from subscribers.subscriptions import unsubscribe
from tests import esp_events
from tests.builders import make_draft, make_link, make_newsletter, make_reader
from tests.esp_events import AUTH, post_mailgun
from tests.helpers import send_issue

pytestmark = pytest.mark.usefixtures("webhook_settings")
webhook_settings = esp_events.webhook_settings

READERS = ["alice", "bob", "carol", "dave", "erin", "frank"]


@pytest.fixture
def editor(db):
    return User.objects.create_superuser("editor", "editor@example.com", "pw-for-tests-only")


@pytest.fixture
def sent_issue(client, mailgun, db):
    """An issue sent to six readers, then the events an ESP and readers produce."""
    newsletter = make_newsletter()
    for name in READERS:
        make_reader(newsletter, f"{name}@example.com")
    issue = make_draft(newsletter, 1)  # link "A paper worth reading" in Research
    make_link(issue, "https://example.org/course", section="Learn", title="A course")
    send_issue(issue)

    def event(kind: str, name: str, **data):
        email = f"{name}@example.com"
        message_id = issue.deliveries.get(subscriber__email=email).message_id
        body = esp_events.mailgun_event(kind, email, message_id, **data)
        assert post_mailgun(client, body, **AUTH).status_code == 200

    for name in ["alice", "bob", "carol", "dave", "frank"]:
        event("delivered", name)
    event("failed", "erin", severity="permanent", reason="bounce")
    event("complained", "frank")
    for name in ["alice", "bob", "carol"]:
        event("opened", name)

    def tracked(name: str, index: int) -> str:
        [message] = mailgun.messages_to(f"{name}@example.com")
        return re.findall(r'href="https?://[^/"]+(/l/[^"]+)"', message.html)[index]

    for name, index in [("alice", 0), ("alice", 0), ("bob", 0), ("carol", 1)]:
        assert client.get(tracked(name, index)).status_code == 302

    def answer(name: str, value: str) -> None:
        [message] = mailgun.messages_to(f"{name}@example.com")
        path = re.search(rf'href="https?://[^/"]+(/f/[^/"]+/{value}/)"', message.html).group(1)
        assert client.post(path).status_code == 200

    answer("alice", "loved")
    answer("bob", "loved")
    answer("carol", "no")
    unsubscribe(Subscription.objects.get(subscriber__email="dave@example.com"))
    return issue


def figure(page: str, tile: str) -> str:
    return re.search(rf'id="{tile}"><span class="figure">([^<]*)<', page).group(1)


def stats_page(client, issue) -> str:
    response = client.get(f"/admin/newsletter/issue/{issue.pk}/stats/")
    assert response.status_code == 200
    return response.content.decode()


def test_it_shows_the_figures_of_a_send(client, editor, sent_issue):
    client.force_login(editor)
    page = stats_page(client, sent_issue)
    assert figure(page, "sent") == "6"
    assert figure(page, "delivered") == "5"
    assert figure(page, "bounced") == "1"
    assert figure(page, "complained") == "1"
    assert figure(page, "unsubscribed") == "1"
    assert figure(page, "opens") == "3"
    # Mail privacy protection opens every email on delivery: opens are an estimate.
    assert "unique opens (an estimate)" in page
    assert figure(page, "unique-clicks") == "3"
    assert figure(page, "click-rate") == "60.0%"  # 3 of 5 delivered
    assert figure(page, "clicks") == "3"  # alice's second click on a link counts once
    assert figure(page, "answers") == "3"


def test_it_ranks_links_and_sections_by_clicks(client, editor, sent_issue):
    client.force_login(editor)
    page = stats_page(client, sent_issue)
    links = re.search(r'id="top-links">(.*?)</table>', page, re.S).group(1)
    row = r'<a href="([^"]+)"[^>]*>[^<]*</a>.*?num">(\d+)</td>\s*<td class="num">(\d+)'
    assert re.findall(row, links, re.S) == [
        ("https://example.org/1/paper", "2", "2"),
        ("https://example.org/course", "1", "1"),
    ]
    sections = re.search(r'id="sections">(.*?)</table>', page, re.S).group(1)
    row = r'<td>([^<]+)</td><td class="num">\d+</td><td class="num">(\d+)'
    assert re.findall(row, sections) == [("Research", "2"), ("Learn", "1")]


def test_it_totals_reader_feedback(client, editor, sent_issue):
    client.force_login(editor)
    page = stats_page(client, sent_issue)
    feedback = re.search(r'id="feedback">(.*?)</table>', page, re.S).group(1)
    assert re.findall(r'<td>([^<]+)</td><td class="num">(\d+)', feedback) == [
        ("👍 Loved it", "2"),
        ("😐 It was OK", "0"),
        ("👎 Not for me", "1"),
    ]


def test_it_says_when_opens_are_not_reported(client, editor, mailgun, db):
    newsletter = make_newsletter()
    make_reader(newsletter, "alice@example.com")
    issue = make_draft(newsletter, 1)
    send_issue(issue)
    client.force_login(editor)
    page = stats_page(client, issue)
    assert figure(page, "opens") == "—"
    assert "not reported by the ESP" in page
    assert figure(page, "click-rate") == "0.0%"  # of sent, as no delivery was reported


def test_the_issue_list_links_to_the_stats_of_sent_issues(client, editor, sent_issue):
    client.force_login(editor)
    page = client.get("/admin/newsletter/issue/").content.decode()
    assert f'href="/admin/newsletter/issue/{sent_issue.pk}/stats/"' in page


def test_it_is_for_staff_only(client, sent_issue):
    url = f"/admin/newsletter/issue/{sent_issue.pk}/stats/"
    assert client.get(url).status_code == 302  # to the login page
    User.objects.create_user("reader", password="pw-for-tests-only")
    client.login(username="reader", password="pw-for-tests-only")
    assert client.get(url).status_code == 302


def test_staff_need_permission_to_view_issues(client, sent_issue):
    clerk = User.objects.create_user("clerk", password="pw-for-tests-only", is_staff=True)
    client.force_login(clerk)
    url = f"/admin/newsletter/issue/{sent_issue.pk}/stats/"
    assert client.get(url).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="view_issue"))
    assert client.get(url).status_code == 200


# -- Growth ---------------------------------------------------------------------


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, tzinfo=UTC)


@pytest.fixture
def history(db):
    """Three weeks: 2 confirm in week 1, 3 in week 2 (one of week 1 leaves), 1 in week 3."""
    newsletter = make_newsletter()
    monday = date(2026, 3, 2)
    weeks = [0, 0, 1, 1, 1, 2]
    for n, week in enumerate(weeks):
        when = at(monday + timedelta(weeks=week))
        make_reader(newsletter, f"r{n}@example.com", confirmed_at=when)
    Subscription.objects.filter(subscriber__email="r0@example.com").update(
        status="unsubscribed", unsubscribed_at=at(monday + timedelta(weeks=1, days=2))
    )
    make_reader(newsletter, "pending@example.com", status="pending", confirmed_at=None)
    return newsletter, monday


def test_growth_points_count_each_week(history):
    newsletter, monday = history
    points = growth_points(newsletter, today=monday + timedelta(weeks=2, days=3))
    assert [(p.week, p.joined, p.left, p.total) for p in points] == [
        (monday, 2, 0, 2),
        (monday + timedelta(weeks=1), 3, 1, 4),
        (monday + timedelta(weeks=2), 1, 0, 5),
    ]


def test_growth_points_start_from_what_came_before_the_window(history):
    newsletter, monday = history
    points = growth_points(newsletter, weeks=1, today=monday + timedelta(weeks=2, days=3))
    assert [(p.joined, p.left, p.total) for p in points] == [(1, 0, 5)]


@freeze_time("2026-03-19 12:00")
def test_the_growth_page_draws_an_svg_chart(client, editor, history):
    newsletter, monday = history
    client.force_login(editor)
    response = client.get(f"/admin/newsletter/issue/growth/{newsletter.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    chart = re.search(r'<svg [^>]*class="growth-chart".*?</svg>', page, re.S).group(0)
    assert "<script" not in chart
    assert "Week of 02 Mar 2026: 2 confirmed" in page
    assert "Week of 09 Mar 2026: 1 left" in page


def test_a_newsletter_without_subscribers_gets_a_note_not_a_chart(client, editor, db):
    newsletter = make_newsletter()
    client.force_login(editor)
    page = client.get(f"/admin/newsletter/issue/growth/{newsletter.pk}/").content.decode()
    assert "No confirmed subscribers yet." in page
    assert "growth-chart" not in page
