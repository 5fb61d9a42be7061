import re

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse

from mail.messages import recipient_values
from newsletter.emails import issue_message
from newsletter.models import Link
from newsletter.rendering import render_issue
from subscribers.models import Suppression
from subscribers.subscriptions import suppress
from tests.builders import (
    make_authored_issue,
    make_editor,
    make_field_notes_newsletter,
    make_reader,
    make_subscription,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def issue():
    return make_authored_issue(
        make_field_notes_newsletter(), sections=2, links=3, preheader="Inbox teaser"
    )


@pytest.fixture
def editor(client):
    user = make_editor()
    client.force_login(user)
    return user


def preview_url(issue) -> str:
    return reverse("admin:newsletter_issue_preview", args=[issue.pk])


def without_recipient_links(text: str) -> str:
    return re.sub(r"/(unsubscribe|preferences)/[^/\s\"'<>]+/", r"/\1/TOKEN/", text)


def test_it_is_for_staff_with_issue_permissions_only(client, issue):
    assert client.get(preview_url(issue)).status_code == 302  # to the login page
    client.force_login(User.objects.create_user("reader", "r@example.com", "pw"))
    assert client.get(preview_url(issue)).status_code == 302
    client.force_login(make_editor("nobody", perms=()))
    assert client.get(preview_url(issue)).status_code == 403
    assert client.post(preview_url(issue), {"to": "x@example.com"}).status_code == 403
    assert mail.outbox == []


def test_it_shows_the_email_at_two_widths_the_text_and_the_size(client, editor, issue):
    response = client.get(preview_url(issue))
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count("<iframe") == 2
    assert 'class="frame-desktop"' in page and 'class="frame-phone"' in page
    assert page.count('sandbox="allow-popups allow-popups-to-escape-sandbox"') == 2
    assert 'srcdoc="&lt;!doctype html&gt;' in page
    assert "Inbox teaser" in page
    size = float(re.search(r'id="html-size">([\d.]+) kB of 102 kB', page).group(1))
    assert 5 < size < 102
    assert "Too big for Gmail" not in page
    text = re.search(r'<pre class="text-part">(.*?)</pre>', page, re.S).group(1)
    assert "* Link 2.3 (Example blog)" in text
    assert 'value="editor@example.com"' in page  # a test goes to the editor by default


def test_it_warns_when_gmail_would_clip_the_email(client, editor):
    issue = make_authored_issue(make_field_notes_newsletter(), sections=6, links=40)
    page = client.get(preview_url(issue)).content.decode()
    assert "Too big for Gmail" in page
    assert 'class="size-clipped"' in page


def test_a_render_error_is_a_message_naming_the_field(client, editor, issue):
    Link.objects.filter(title="Link 2.2").update(url="javascript:alert(1)")
    response = client.get(preview_url(issue), follow=True)
    assert response.redirect_chain[-1][0] == reverse(
        "admin:newsletter_issue_change", args=[issue.pk]
    )
    page = response.content.decode()
    assert "Section 2 &#x27;Section 2&#x27; → link 2: url:" in page


def test_send_test_puts_exactly_one_real_email_into_the_esp(client, editor, issue, mailgun):
    reader = make_reader(issue.newsletter, "reader@example.com")
    response = client.post(preview_url(issue), {"to": "Proof@Example.com"}, follow=True)
    assert "Test of #1 sent to Proof@Example.com" in response.content.decode()
    assert len(mailgun.messages) == 1
    test = mailgun.messages[0]
    assert test.to == "proof@example.com"
    assert test.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(
        r"<http://\S+/unsubscribe/\S+/one-click/>", test.headers["List-Unsubscribe"]
    )
    assert test.headers["List-Id"] == "Field Notes <field-notes.127.0.0.1>"

    # What the reader gets through the same ESP: the same email but for their own links.
    values = recipient_values(reader)
    issue_message(issue, render_issue(issue), to="reader@example.com", values=values).send()
    subscriber = mailgun.messages_to("reader@example.com")[0]
    assert subscriber.subject == "Issue number 1"
    assert test.subject == "[Test] Issue number 1"  # nobody takes a test for the real one
    assert test.html != subscriber.html
    assert without_recipient_links(test.html) == without_recipient_links(subscriber.html)
    assert without_recipient_links(test.text) == without_recipient_links(subscriber.text)
    assert test.headers.keys() == subscriber.headers.keys()
    assert "Link 2.3" in test.text and "[[" not in test.html + test.text


def test_send_test_to_a_subscriber_uses_their_own_links(client, editor, issue, mailgun):
    reader = make_reader(issue.newsletter, "reader@example.com")
    client.post(preview_url(issue), {"to": "reader@example.com"})
    [test] = mailgun.messages
    assert recipient_values(reader)["unsubscribe_url"] in test.html


def test_send_test_refuses_a_bad_address(client, editor, issue, mailgun):
    response = client.post(preview_url(issue), {"to": "not an address"})
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
    assert mailgun.messages == []


@pytest.mark.parametrize("status", ["unsubscribed", "bounced", "complained", "suppressed"])
def test_send_test_never_reaches_a_reader_who_left_or_cannot_be_mailed(
    client, editor, issue, mailgun, status
):
    if status == "suppressed":  # bounced on another newsletter, or erased
        suppress("gone@example.com", reason=Suppression.BOUNCED)
    else:
        make_subscription(issue.newsletter, "gone@example.com", status)
    response = client.post(preview_url(issue), {"to": "Gone@example.com"}, follow=True)
    assert "Gone@example.com left this newsletter or cannot be mailed" in response.content.decode()
    assert mailgun.messages == []


def test_an_esp_failure_is_a_message_not_a_crash(client, editor, issue, mailgun):
    mailgun.faults.error_5xx = 1.0
    response = client.post(preview_url(issue), {"to": "proof@example.com"})
    assert response.status_code == 200
    assert "The test to proof@example.com was not sent" in response.content.decode()
    assert mailgun.messages == []


def test_a_viewer_may_preview_but_not_send(client, issue, mailgun):
    client.force_login(make_editor("viewer", perms=("view_issue",)))
    assert client.get(preview_url(issue)).status_code == 200
    assert client.post(preview_url(issue), {"to": "x@example.com"}).status_code == 403
    assert mailgun.messages == []


def test_after_a_send_the_form_keeps_the_address(client, editor, issue, mailgun):
    response = client.post(preview_url(issue), {"to": "proof@example.com"}, follow=True)
    assert 'value="proof@example.com"' in response.content.decode()
