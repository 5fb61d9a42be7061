"""Honest clicks: every link of an issue email through /l/, the links in its
intro and commentary included; scanners' clicks kept apart from readers'."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from freezegun import freeze_time

from mail.tokens import link_token, prose_link_token
from newsletter.models import Click, Link, ProseLink
from newsletter.rendering import render_issue
from tests.builders import make_draft, make_newsletter, make_reader
from tests.helpers import send_issue

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15"
TRACKED = re.compile(r'href="https?://[^/"]+(/l/[^"]+)"')
NEWS = "https://example.org/news?a=1&b=2"
CODE = "https://example.org/code"
PAPER = "https://example.org/1/paper"


@pytest.fixture
def sent(mailgun, db):
    """An issue with a link in its intro, one in a commentary and the link's title,
    sent to alice and bob."""
    newsletter = make_newsletter()
    for name in ("alice", "bob"):
        make_reader(newsletter, f"{name}@example.com")
    issue = make_draft(newsletter, 1)
    issue.intro = f"Read [the announcement]({NEWS}) or [write to us](mailto:ed@example.org)."
    issue.save()
    Link.objects.filter(section__issue=issue).update(commentary=f"See [the code]({CODE}).")
    send_issue(issue)
    issue.refresh_from_db()
    return issue


def links_of(mailgun, name: str) -> list[str]:
    [message] = mailgun.messages_to(f"{name}@example.com")
    return TRACKED.findall(message.html)


def delivery_of(issue, name: str):
    return issue.deliveries.get(subscriber__email=f"{name}@example.com")


def follow(client, path: str, agent: str = BROWSER) -> str:
    response = client.get(path, HTTP_USER_AGENT=agent)
    assert response.status_code == 302
    return response["Location"]


def test_every_link_of_the_email_goes_through_l_to_its_stored_url(client, mailgun, sent):
    [message] = mailgun.messages_to("alice@example.com")
    assert f'href="{CODE}"' not in message.html
    assert 'href="https://example.org/news' not in message.html
    assert 'href="mailto:ed@example.org"' in message.html  # a mail app's, not a web page
    places = []
    with freeze_time(delivery_of(sent, "alice").sent_at + timedelta(minutes=5)) as clock:
        for path in links_of(mailgun, "alice"):
            places.append(follow(client, path))
            clock.tick(30)  # a reader reads between clicks
    assert places == [NEWS, PAPER, CODE]
    clicks = Click.objects.filter(delivery=delivery_of(sent, "alice"))
    assert {c.kind for c in clicks} == {Click.Kind.HUMAN}
    assert clicks.filter(prose__url=CODE, prose__section__title="Research").exists()


@pytest.mark.parametrize(
    "agent, reason",
    [
        (BROWSER, "3 or more links within 2 s"),
        ("Mozilla/5.0 (compatible; Proofpoint URL Defense)", "Proofpoint"),
    ],
)
def test_a_scanner_opening_every_link_on_delivery_is_no_reader(
    client, mailgun, sent, agent, reason
):
    alice = delivery_of(sent, "alice")
    with freeze_time(alice.sent_at + timedelta(seconds=1)):
        for path in links_of(mailgun, "alice"):
            follow(client, path, agent)
    assert [(c.kind, c.reason) for c in Click.objects.all()] == [(Click.Kind.SCANNER, reason)] * 3
    alice.refresh_from_db()
    assert alice.clicked_at is None


def test_a_burst_turns_the_clicks_already_counted_into_the_scanners(client, mailgun, sent):
    alice = delivery_of(sent, "alice")
    first, *rest = links_of(mailgun, "alice")
    with freeze_time(alice.sent_at + timedelta(minutes=3)) as clock:
        follow(client, first)
        alice.refresh_from_db()
        assert alice.clicked_at is not None and Click.objects.get().kind == Click.Kind.HUMAN
        clock.tick(1)
        for path in rest:
            follow(client, path)
    assert set(Click.objects.values_list("kind", flat=True)) == {Click.Kind.SCANNER}
    alice.refresh_from_db()
    assert alice.clicked_at is None


def test_two_links_at_once_just_after_sending_are_a_scanners(client, mailgun, sent):
    alice = delivery_of(sent, "alice")
    with freeze_time(alice.sent_at + timedelta(seconds=10)):
        for path in links_of(mailgun, "alice")[:2]:
            follow(client, path)
    assert set(Click.objects.values_list("reason", flat=True)) == {
        "2 links within 2 s, 30 s or less after sending"
    }


def test_a_readers_three_clicks_on_a_link_are_one_unique_click(client, mailgun, sent):
    bob = delivery_of(sent, "bob")
    paper = links_of(mailgun, "bob")[1]
    with freeze_time(bob.sent_at + timedelta(hours=2), tick=True) as clock:
        for _ in range(3):
            assert follow(client, paper) == PAPER
            clock.tick(20)
    click = Click.objects.get()
    assert (click.kind, click.delivery) == (Click.Kind.HUMAN, bob)


def test_the_stats_page_shows_readers_and_scanners_apart(client, mailgun, sent):
    alice, bob = delivery_of(sent, "alice"), delivery_of(sent, "bob")
    with freeze_time(alice.sent_at + timedelta(seconds=1)):
        for path in links_of(mailgun, "alice"):  # a scanner at alice's company
            follow(client, path)
    with freeze_time(bob.sent_at + timedelta(hours=1), tick=True) as clock:
        for path in links_of(mailgun, "bob")[::2] * 2:  # the intro's and commentary's links
            follow(client, path)
            clock.tick(30)

    editor = User.objects.create_superuser("editor", "editor@example.com", "pw-for-tests-only")
    client.force_login(editor)
    page = client.get(f"/admin/newsletter/issue/{sent.pk}/stats/").content.decode()

    def figure(tile: str) -> str:
        return re.search(rf'id="{tile}"><span class="figure">([^<]*)<', page).group(1)

    assert (figure("unique-clicks"), figure("clicks"), figure("scanner-clicks")) == ("1", "2", "3")
    prose = re.search(r'id="prose-links">(.*?)</table>', page, re.S).group(1)
    row = r'<a href="([^"]+)"[^>]*>.*?<span class="link-section">([^<]+)</span></td>'
    row += r'\s*<td class="num">(\d+)</td>\s*<td class="num">(\d+)</td>\s*<td class="num">(\d+)'
    assert re.findall(row, prose, re.S) == [
        (NEWS.replace("&", "&amp;"), "Issue intro or sign-off", "1", "1", "1"),
        (CODE, "Research", "1", "1", "1"),
    ]
    scanners = re.search(r'id="scanners">(.*?)</table>', page, re.S).group(1)
    assert '<td>3 or more links within 2 s</td><td class="num">3</td>' in scanners
    sections = re.search(r'id="sections">(.*?)</table>', page, re.S).group(1)
    research = r'<td>Research</td><td class="num">1</td><td class="num">(\d+)'
    assert re.findall(research, sections) == ["1"]  # bob's click in its commentary


def test_a_prose_link_redirects_only_to_its_stored_url(client, mailgun, sent):
    prose = ProseLink.objects.get(url=CODE)
    token = prose_link_token(prose)
    for tampered in (
        "999" + token[token.index(".") :],  # another id, the same signature
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        link_token(prose),  # a title link's token for the same id: another salt
    ):
        response = client.get(f"/l/{tampered}/?url={CODE}")
        assert response.status_code == 404
        assert "This link does not work" in response.content.decode()
    assert client.get(f"/l/{token}/?url=https://evil.example/")["Location"] == CODE
    assert Click.objects.filter(kind=Click.Kind.HUMAN).count() == 0  # no reader key


def test_a_drafts_preview_stores_its_prose_links_once(db):
    issue = make_draft(make_newsletter(), 1)
    Link.objects.filter(section__issue=issue).update(commentary=f"[code]({CODE}) and [c]({CODE})")
    html = render_issue(issue).html
    [prose] = ProseLink.objects.all()
    assert html.count(f"/l/{prose_link_token(prose)}/") == 2


def test_a_prose_url_too_long_to_store_goes_straight_to_its_page(db):
    issue = make_draft(make_newsletter(), 1)
    long = "https://example.org/?q=" + "x" * 2000
    Link.objects.filter(section__issue=issue).update(commentary=f"[long]({long}) [code]({CODE})")
    html = render_issue(issue).html
    assert f'href="{long}"' in html
    assert list(ProseLink.objects.values_list("url", flat=True)) == [CODE]
