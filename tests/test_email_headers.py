"""Each type of email carries the headers mailbox providers and mail programs
act on, and only those: list headers on list mail, Precedence: bulk on
issues, Auto-Submitted on system mail, Feedback-ID and a Message-ID on the
sender's domain on all; the ESP's click tracking off on all where the ESP
takes it per message, its tag on all."""

import pytest
from anymail.exceptions import AnymailUnsupportedFeature
from anymail.message import AnymailMessage
from django.core.mail import get_connection

from mail.messages import SenderRefused, build_message
from newsletter.emails import batch_message
from newsletter.rendering import render_issue
from subscribers import emails as subscriber_emails
from tests.builders import make_issue, make_newsletter, make_reader, make_subscription
from tests.every_email import every_email

pytestmark = pytest.mark.django_db

LIST = {"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post"}
# Email type → (Feedback-ID, headers it must carry, headers it must not).
EXPECTED = {
    "issue": ("issue-1:field-notes:example.com", {"Precedence", *LIST}, {"Auto-Submitted"}),
    "issue_60_links": ("issue-2:field-notes:example.com", {"Precedence", *LIST}, set()),
    "confirm": ("confirm:signals:example.com", {"Auto-Submitted"}, {"Precedence", *LIST}),
    "welcome": ("welcome:field-notes:example.com", {"Auto-Submitted", *LIST}, {"Precedence"}),
    "already_subscribed": (
        "already_subscribed:field-notes:example.com",
        {"Auto-Submitted"},
        {"Precedence", *LIST},
    ),
    "reminder": (
        "reminder:field-notes:news.example.com",
        {"Auto-Submitted"},
        {"Precedence", *LIST},
    ),
}


def test_each_type_carries_its_headers_and_not_the_others(settings):
    settings.DEFAULT_FROM_EMAIL = "Letterpress <letterpress@news.example.com>"
    for kind, message in every_email().items():
        feedback_id, present, absent = EXPECTED[kind]
        sent = message.message()  # the MIME message as an SMTP server would get it
        assert sent["Feedback-ID"] == feedback_id, kind
        domain = feedback_id.rpartition(":")[2]
        assert sent["Message-ID"].endswith(f"@{domain}>"), (kind, sent["Message-ID"])
        assert present <= set(sent.keys()), (kind, present - set(sent.keys()))
        assert not absent & set(sent.keys()), (kind, absent & set(sent.keys()))
        if "Precedence" in present:
            assert sent["Precedence"] == "bulk"
        if "Auto-Submitted" in present:
            assert sent["Auto-Submitted"] == "auto-generated"
        assert message.track_clicks is False, kind
        assert message.tags == [kind.removesuffix("_60_links")], kind
        assert message.metadata["newsletter"] in ("field-notes", "signals"), kind


def test_the_esp_is_told_no_click_tracking_and_gets_its_tag_and_metadata(mailgun):
    subscription = make_subscription(make_newsletter(), status="pending")
    subscriber_emails.send_confirm(subscription)
    [sent] = mailgun.messages
    assert sent.options["o:tracking-clicks"] == "no"  # our links stay ours, unsubscribe works
    assert sent.options["o:tag"] == "confirm"
    assert sent.options["v:newsletter"] == "ml-monthly"
    assert sent.headers["Auto-Submitted"] == "auto-generated"
    assert sent.headers["Message-Id"].endswith("@example.com>")


def test_mailjet_takes_each_email_without_the_headers_it_sets_itself(send_through):
    # Mailjet refuses a message whose headers name its Message-ID or List-Id
    # (send-0011), and anymail raises nothing: the email would never leave.
    mailjet = send_through("mailjet")
    subscription = make_subscription(make_newsletter(), status="pending")
    subscriber_emails.send_confirm(subscription)
    subscription.status = "confirmed"
    subscriber_emails.send_welcome(subscription)
    confirm, welcome = mailjet.messages
    assert confirm.headers["Auto-Submitted"] == "auto-generated"
    assert welcome.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert not {"Message-ID", "List-Id"} & (set(confirm.headers) | set(welcome.headers))


# Every anymail backend, with the settings it needs to start (nothing is sent).
ANYMAIL_BACKENDS = {
    "amazon_ses": {},
    "brevo": {"BREVO_API_KEY": "k"},
    "mailersend": {"MAILERSEND_API_TOKEN": "k"},
    "mailgun": {"MAILGUN_API_KEY": "k"},
    "mailjet": {"MAILJET_API_KEY": "k", "MAILJET_SECRET_KEY": "s"},
    "mailtrap": {"MAILTRAP_API_TOKEN": "k"},
    "mandrill": {"MANDRILL_API_KEY": "k"},
    "postal": {"POSTAL_API_KEY": "k", "POSTAL_API_URL": "https://postal.example.com/"},
    "postmark": {"POSTMARK_SERVER_TOKEN": "k"},
    "resend": {"RESEND_API_KEY": "k"},
    "scaleway": {"SCALEWAY_SECRET_KEY": "k", "SCALEWAY_PROJECT_ID": "p"},
    "sendgrid": {"SENDGRID_API_KEY": "k"},
    "sparkpost": {"SPARKPOST_API_KEY": "k"},
    "unisender_go": {"UNISENDER_GO_API_KEY": "k", "UNISENDER_GO_API_URL": "https://go.example/"},
}


def refuses_click_switch(connection) -> bool:
    """Whether anymail refuses a message that turns click tracking off, for this ESP."""
    message = AnymailMessage("s", "t", "ada@example.com", ["r@example.com"], track_clicks=False)
    try:
        connection.build_message_payload(message, connection.send_defaults)
    except AnymailUnsupportedFeature:
        return True
    return False


@pytest.mark.parametrize("backend", sorted(ANYMAIL_BACKENDS))
def test_click_tracking_is_turned_off_in_each_message_wherever_the_esp_takes_it(settings, backend):
    # Where it does not (Amazon SES, Brevo, Resend...), a message that says so
    # is refused outright: every email would fail. Those ESPs set it per account.
    settings.EMAIL_BACKEND = f"anymail.backends.{backend}.EmailBackend"
    settings.ANYMAIL = {**settings.ANYMAIL, **ANYMAIL_BACKENDS[backend]}
    message = build_message(
        kind="confirm",
        subject="s",
        text="t",
        html="<p>t</p>",
        from_email="ada@example.com",
        to=["r@example.com"],
    )
    switched_off = getattr(message, "track_clicks", None) is False
    assert switched_off != refuses_click_switch(get_connection())


def test_a_batch_leaves_each_copy_its_own_message_id_from_the_esp():
    issue = make_issue(make_newsletter())
    readers = {
        s.subscriber.email: {"one_click_url": f"https://x.example/{n}"}
        for n, s in enumerate([make_reader(issue.newsletter, f"r{n}@example.com") for n in (1, 2)])
    }
    message = batch_message(issue, render_issue(issue), readers=readers, syntax="%{}%")
    assert "Message-ID" not in message.extra_headers  # one shared id: copies dropped as duplicates
    assert message.extra_headers["Precedence"] == "bulk"
    assert message.track_clicks is False


def test_no_mail_leaves_through_an_esp_from_a_sender_on_localhost(mailgun):
    newsletter = make_newsletter(sender_email="news@localhost")
    subscription = make_subscription(newsletter, status="pending")
    with pytest.raises(SenderRefused, match="news@localhost> has no real domain"):
        subscriber_emails.send_confirm(subscription)
    assert mailgun.messages == []
