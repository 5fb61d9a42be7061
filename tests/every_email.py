"""Every type of email the app sends, each made through its real send path
(to Django's test outbox): what the spam-score, MJML and header tests look at."""

from datetime import UTC, datetime

from django.core import mail

from mail.messages import recipient_values
from newsletter.emails import issue_message, send_reminder
from newsletter.rendering import render_issue
from subscribers import emails as subscriber_emails
from subscribers.models import Subscription
from tests.builders import make_authored_issue, make_field_notes_newsletter, make_reader

READER = "reader@example.com"
EDITOR = "editor@example.com"
TYPES = ("issue", "issue_60_links", "confirm", "welcome", "already_subscribed", "reminder")


def every_email() -> dict:
    """Email type → the message sent: the reference issue (preheader, date,
    commentary, a sibling in the footer), a 60-link issue, confirmation,
    welcome, already-subscribed and the editors' reminder."""
    newsletter = make_field_notes_newsletter(organisation="Marlowe Press")
    sibling = make_field_notes_newsletter(
        "signals", name="Signals", tagline="Weekly notes on sensors and small hardware."
    )
    newsletter.siblings.add(sibling)
    reader = make_reader(newsletter, READER)
    sent = {"started_at": datetime(2025, 3, 4, 9, tzinfo=UTC)}
    preheader = "Three papers on small models, and one on why benchmarks mislead."
    issue = make_authored_issue(newsletter, 1, sections=2, links=3, preheader=preheader, **sent)
    big = make_authored_issue(newsletter, 2, sections=4, links=15, preheader=preheader, **sent)
    pending = Subscription.objects.create(
        subscriber=reader.subscriber, newsletter=sibling, status=Subscription.Status.PENDING
    )

    mail.outbox.clear()
    for one in (issue, big):
        issue_message(one, render_issue(one), to=READER, values=recipient_values(reader)).send()
    subscriber_emails.send_confirm(pending)
    subscriber_emails.send_welcome(reader)
    subscriber_emails.send_already_subscribed(reader)
    send_reminder(issue, to=[EDITOR])
    assert len(mail.outbox) == len(TYPES), [m.subject for m in mail.outbox]
    return dict(zip(TYPES, mail.outbox, strict=True))
