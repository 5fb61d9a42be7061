"""Tracked links: /l/<link token>/ and /l/<link token>/<recipient key>/."""

import re

import pytest

from mail.links import tracked_href
from mail.tokens import link_token, recipient_key
from newsletter.models import Click
from newsletter.rendering import render_issue
from tests.builders import (
    drafting,
    make_delivery,
    make_draft,
    make_link,
    make_newsletter,
    make_reader,
    make_sent_issue,
)
from tests.helpers import send_issue

URL = "https://example.org/papers/attention?utm_source=x&q=a%20b#section-2"


@pytest.fixture
def issue(db):
    return make_sent_issue(make_newsletter())


@pytest.fixture
def link(issue):
    return make_link(issue, URL)


@pytest.fixture
def delivery(issue):
    return make_delivery(issue, make_reader(issue.newsletter, "alice@example.com"))


def click_path(link, delivery=None) -> str:
    path = f"/l/{link_token(link)}/"
    return path + f"{recipient_key(delivery.pk)}/" if delivery else path


def test_it_redirects_to_the_exact_stored_url_and_counts_one_click(client, link, delivery):
    response = client.get(click_path(link, delivery))
    assert response.status_code == 302
    assert response["Location"] == URL
    assert Click.objects.filter(link=link).count() == 1


def test_anonymous_gets_without_a_reader_key_redirect_but_count_nothing(client, link):
    for _ in range(20):
        response = client.get(click_path(link))
        assert response.status_code == 302
        assert response["Location"] == URL
    assert Click.objects.count() == 0


def test_a_drafts_links_redirect_but_count_nothing(client, db):
    draft = make_draft(make_newsletter(slug="drafting"), 1)
    link = make_link(draft, URL)
    reader = make_delivery(draft, make_reader(draft.newsletter, "early@example.com"))
    assert client.get(click_path(link, reader))["Location"] == URL
    assert client.get(click_path(link))["Location"] == URL
    assert Click.objects.count() == 0


def test_it_records_which_reader_clicked(client, link, delivery):
    response = client.get(click_path(link, delivery))
    assert response.status_code == 302
    assert response["Location"] == URL
    click = Click.objects.get()
    assert click.delivery == delivery
    delivery.refresh_from_db()
    assert delivery.clicked_at == click.created


def test_a_readers_clicks_on_a_link_count_once_and_the_first_time_stays(client, link, delivery):
    client.get(click_path(link, delivery))
    delivery.refresh_from_db()
    first = delivery.clicked_at
    for _ in range(5):
        assert client.get(click_path(link, delivery))["Location"] == URL
    assert Click.objects.count() == 1
    delivery.refresh_from_db()
    assert delivery.clicked_at == first


def test_a_head_request_shows_where_the_link_goes_but_is_a_scanners_click(client, link, delivery):
    # Link checkers and previewers ask with HEAD; a reader's browser GETs.
    response = client.head(click_path(link, delivery))
    assert response.status_code == 302 and response["Location"] == URL
    assert not Click.objects.filter(kind=Click.Kind.HUMAN).exists()
    assert Click.objects.get().reason == "HEAD request"
    delivery.refresh_from_db()
    assert delivery.clicked_at is None
    assert client.post(click_path(link, delivery)).status_code == 405
    assert Click.objects.count() == 1


def test_it_ignores_any_url_in_the_request(client, link):
    response = client.get(click_path(link) + "?url=https://evil.example/&next=//evil.example")
    assert response["Location"] == URL


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: "999" + token[token.index(".") :],  # another link id, same signature
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature altered
        lambda token: token.split(".")[0],  # signature removed
        lambda token: "1.forgedsignatureforgedsignatureforgedsign",
    ],
)
def test_an_altered_or_forged_link_answers_404(client, link, tamper):
    response = client.get(f"/l/{tamper(link_token(link))}/")
    assert response.status_code == 404
    assert "This link does not work" in response.content.decode()
    assert Click.objects.count() == 0


def test_a_recipient_key_is_not_a_link_token(client, link, delivery):
    # Both are signed ids, but with different salts.
    assert client.get(f"/l/{recipient_key(delivery.pk)}/").status_code == 404


def test_an_altered_recipient_key_answers_404(client, link, delivery):
    key = recipient_key(delivery.pk)
    response = client.get(f"/l/{link_token(link)}/{key[:-2]}xx/")
    assert response.status_code == 404
    assert Click.objects.count() == 0


def test_a_key_from_another_issue_answers_404(client, link, delivery):
    other = make_sent_issue(link.section.issue.newsletter, number=2)
    theirs = make_delivery(other, make_reader(other.newsletter, "bob@example.com"))
    assert client.get(click_path(link, theirs)).status_code == 404
    assert Click.objects.count() == 0


def test_a_deleted_link_answers_404(client, link):
    path = click_path(link)
    with drafting(link.section.issue):  # e.g. deleted before the send, from a test email
        link.delete()
    assert client.get(path).status_code == 404


def test_it_counts_only_the_link_when_per_subscriber_tracking_is_off(client, link, delivery):
    newsletter = link.section.issue.newsletter
    newsletter.per_subscriber_tracking = False
    newsletter.save()
    assert client.get(click_path(link, delivery)).status_code == 302
    click = Click.objects.get()
    assert click.delivery is None
    delivery.refresh_from_db()
    assert delivery.clicked_at is None


def test_a_test_email_link_without_a_reader_key_reaches_the_link_uncounted(client, link):
    # Previews and test emails leave the reader slot empty: /l/<token>//
    response = client.get(f"/l/{link_token(link)}//")
    assert response["Location"] == URL
    assert Click.objects.count() == 0


def test_tracked_links_carry_the_recipient_key_placeholder(link):
    href = tracked_href(link, per_subscriber=True)
    assert href.endswith(f"/l/{link_token(link)}/[[recipient_key]]/")
    assert tracked_href(link, per_subscriber=False).endswith(f"/l/{link_token(link)}/")


TRACKED = re.compile(r'href="https?://[^/"]+(/l/[^"]+)"')


def test_links_in_a_sent_issue_count_the_click_for_its_reader(client, mailgun, db):
    newsletter = make_newsletter()
    alice = make_reader(newsletter, "alice@example.com")
    make_reader(newsletter, "bob@example.com")
    issue = make_draft(newsletter, 1)
    send_issue(issue)

    [message] = mailgun.messages_to("alice@example.com")
    [path] = TRACKED.findall(message.html)
    response = client.get(path)
    assert response["Location"] == "https://example.org/1/paper"
    assert Click.objects.get().delivery == issue.deliveries.get(subscriber=alice.subscriber)


def test_links_have_no_reader_key_without_per_subscriber_tracking(client, mailgun, db):
    newsletter = make_newsletter(per_subscriber_tracking=False)
    make_reader(newsletter, "alice@example.com")
    send_issue(make_draft(newsletter, 1))
    [message] = mailgun.messages_to("alice@example.com")
    [path] = TRACKED.findall(message.html)
    assert re.fullmatch(r"/l/[^/]+/", path)
    assert client.get(path).status_code == 302
    assert Click.objects.get().delivery is None


def test_links_go_straight_to_their_url_when_click_tracking_is_off(db):
    issue = make_draft(make_newsletter(click_tracking=False), 1)
    html = render_issue(issue).html
    assert 'href="https://example.org/1/paper"' in html
    assert "/l/" not in html
