"""What a newcomer and an editor see first, in Chromium: the outbox on a phone,
the admin as an editor, and a send's panel settling by itself when it ends."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mail.messages import build_message
from newsletter.models import Delivery, Issue
from tests.builders import EDITOR_PERMS, make_editor, make_issue, make_newsletter, make_readers
from tests.helpers import PHONE, log_in, shoot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]

PASSWORD = "correct horse battery"  # tests.builders.make_editor's


@pytest.fixture
def outbox(settings, tmp_path):
    settings.EMAIL_BACKEND = "mail.outbox.OutboxBackend"
    settings.OUTBOX_DIR = tmp_path / "outbox"
    settings.DEBUG = True  # the outbox is a development page
    build_message(
        kind="confirm",
        subject="Confirm your subscription to Field Notes on the Web, a long-named newsletter",
        text="Hello",
        html="<p>Hello</p>",
        from_email="Field Notes <field-notes-editorial-desk@newsletters.example.org>",
        to=["a-rather-long-address-for-a-phone-screen@subdomain.example.com"],
    ).send()


def test_the_outbox_reads_on_a_phone_with_who_and_what_shown_first(page, live_server, outbox):
    make_editor(perms=(*EDITOR_PERMS, "view_subscriber"))
    page.goto(f"{live_server.url}/outbox/")
    # Staff only: the admin's login first, then back to the outbox.
    page.get_by_label("Username").fill("editor")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Confirm your subscription").wait_for()
    shoot(page, "outbox-list")  # fails if the page scrolls sideways at 375 px

    page.set_viewport_size(PHONE)
    page.get_by_role("link", name="Confirm your subscription").click()
    page.get_by_role("heading", name="Confirm your subscription").wait_for()
    for header in ("From", "To", "Date"):
        assert page.locator("dl.envelope dt", has_text=header).is_visible()
    assert page.get_by_text("a-rather-long-address-for-a-phone-screen").first.is_visible()
    shoot(page, "outbox-message")


def test_an_editor_sees_letterpress_and_only_what_they_use(page, live_server):
    make_editor(perms=EDITOR_PERMS)
    log_in(page, live_server.url, "editor", PASSWORD)

    assert page.title() == "Site administration | Letterpress"
    assert page.locator("#site-name").inner_text() == "Letterpress"
    assert page.get_by_role("link", name="Issues").is_visible()
    for hidden in ("Groups", "Access attempts", "Access logs", "Access failures"):
        assert page.get_by_role("link", name=hidden).count() == 0
    shoot(page, "admin-index-editor")


def test_the_panel_settles_by_itself_when_the_send_ends(page, live_server):
    newsletter = make_newsletter()
    readers = make_readers(newsletter, 3)
    now = timezone.now()
    issue = make_issue(newsletter, status=Issue.Status.SENDING, started_at=now, send_at=now)
    Delivery.objects.bulk_create(
        Delivery(issue=issue, subscriber_id=r.subscriber_id, batch=1, state="sent", sent_at=now)
        for r in readers
    )
    make_editor(perms=(*EDITOR_PERMS, "send_issue", "view_newsletter"))
    log_in(page, live_server.url, "editor", PASSWORD)
    page.goto(f"{live_server.url}/admin/newsletter/issue/{issue.pk}/change/")
    panel = page.locator("#sending")
    assert panel.get_by_role("link", name="Cancel sending…").is_visible()
    page.evaluate("window.notReloaded = true")

    Issue.objects.filter(pk=issue.pk).update(
        status=Issue.Status.SENT, planned_at=now, sent_at=now + timedelta(seconds=2)
    )

    panel.get_by_text("Sent", exact=False).first.wait_for()
    page.locator(".sending-status", has_text="Sent").wait_for(timeout=10_000)
    assert panel.get_by_role("link", name="Cancel sending…").count() == 0
    assert page.evaluate("window.notReloaded === true")  # swapped in place
    # The rate over the send's last seconds, as a reload shows it.
    live = panel.locator('[data-field="rate"]').inner_text()
    page.reload()
    assert page.locator('#sending [data-field="rate"]').inner_text() == live == "1.5"
    shoot(page, "sending-panel-finished", fits_phone=False)
