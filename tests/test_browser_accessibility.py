"""axe-core in Chromium on every public page and on the emails readers get:
no serious or critical violation, in the light and in the dark colour scheme."""

from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from mail import links
from mail.tokens import recipient_key
from newsletter.emails import send_test_issue
from newsletter.models import Click, Delivery, Issue, Link, Newsletter
from subscribers.emails import READER_LINK_SUBJECTS, send_reader_link
from subscribers.models import Subscriber, Subscription
from tests.builders import make_subscription
from tests.helpers import (
    axe_violations,
    click_in_email,
    demo_site,
    email_to,
    open_email,
    shoot,
    sign_up,
    stub_the_internet,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # Public pages forbid scripts (Content-Security-Policy); axe is injected all the same.
    return {**browser_context_args, "bypass_csp": True}


@pytest.fixture
def site(settings, live_server):
    return demo_site(settings, live_server)


class Audit:
    """Runs axe on the page, in both colour schemes, once it shows the expected heading;
    keeps what it finds."""

    def __init__(self, page):
        self.page = page
        self.found: dict[str, list] = {}

    def __call__(self, name: str, heading: str | None = None) -> None:
        if heading:
            self.page.get_by_role("heading", name=heading, level=1).wait_for()
        for scheme in ("light", "dark"):
            self.page.emulate_media(color_scheme=scheme)
            violations = axe_violations(self.page)
            if violations:
                self.found[f"{name} ({scheme})"] = violations
        self.page.emulate_media(color_scheme="light")


def test_every_public_page_passes_axe(page, site, settings):
    newsletter = Newsletter.objects.get(slug="field-notes")
    sent = Issue.objects.get(newsletter=newsletter, number=1)
    pending = make_subscription(newsletter, "pending@example.com", status="pending")
    ada = Subscription.objects.get(
        newsletter=newsletter, subscriber__email="ada.reader@example.com"
    )
    delivery = Delivery.objects.get(issue=sent, subscriber=ada.subscriber)
    audit = Audit(page)

    page.goto(f"{site}/subscribe/")
    audit("signup index", "Newsletters")
    page.get_by_role("link", name=f"Subscribe to {newsletter.name}").click()
    audit("signup", f"Subscribe to {newsletter.name}")
    sign_up(page, "reader@example")
    page.get_by_text("should have a period").wait_for()
    audit("signup with an error", f"Subscribe to {newsletter.name}")
    sign_up(page, "new.reader@example.com")
    audit("check your inbox", "Check your inbox")

    page.goto(links.confirm_url(pending))
    audit("confirm", "Confirm your subscription")
    page.get_by_role("button", name="Yes, subscribe me").click()
    audit("confirmed", "You are subscribed")

    page.goto(links.unsubscribe_url(ada))
    audit("unsubscribe", f"Unsubscribe from {newsletter.name}?")
    page.get_by_role("button", name="Unsubscribe", exact=True).click()
    audit("unsubscribed", "You are unsubscribed")
    page.get_by_role("button", name="Resubscribe").click()
    audit("resubscribed", "Welcome back")

    page.goto(links.preferences_url(ada.subscriber))
    audit("preferences", "Your preferences")
    page.get_by_role("button", name="Delete me").click()
    audit("link sent", "Check your inbox")
    page.goto(links.reader_url("erase", ada.subscriber))
    audit("delete me", "Delete your data?")
    with freeze_time(timezone.now() - timedelta(days=100)):
        expired = links.preferences_url(ada.subscriber)
    page.goto(expired)
    audit("expired link", "This link has expired")

    page.goto(f"{site}/archive/")
    audit("archive index", "Archive")
    page.locator("summary", has_text=f"Subscribe to {newsletter.name}").click()
    audit("archive index, a signup form open", "Archive")
    shoot(page, "archive")
    page.get_by_role("link", name=newsletter.name, exact=True).click()
    audit("newsletter archive", newsletter.name)
    page.get_by_role("link", name=f"#1: {sent.subject}").click()
    audit("issue web page", sent.subject)
    shoot(page, "issue")

    page.goto(f"{site}/archive/{newsletter.slug}/")
    page.get_by_label("Search past issues").fill("popover dropdown")
    page.get_by_role("button", name="Search").click()
    audit("search results", "Search past issues")
    shoot(page, "search")
    page.get_by_role("link", name="The Popover API").click()
    audit("link page", "The Popover API")
    page.get_by_role("link", name="Sources", exact=True).click()
    audit("sources", "Sources")
    page.goto(f"{site}/archive/{newsletter.slug}/search/?q=css&year=abc")
    audit("search with an error", "Search past issues")
    for title, readers in (("Learn CSS", 3), ("The Popover API", 2)):
        link = Link.objects.get(section__issue=sent, title=title)
        Click.objects.bulk_create([Click(link=link) for _ in range(readers)])
    page.goto(f"{site}/archive/{newsletter.slug}/most-clicked/")
    audit("most clicked", f"Most clicked in {sent.date.year}")

    page.goto(f"{site}/f/{recipient_key(delivery.pk)}/loved/")
    audit("feedback", newsletter.feedback_ask)
    page.get_by_role("button", name="Loved it").click()
    audit("feedback recorded", "Thank you!")

    page.goto(f"{site}/confirm/not-a-real-token/")
    audit("bad link", "This link does not work")

    settings.RATELIMIT_ENABLED = True
    settings.SIGNUP_RATE_PER_IP = 0
    page.goto(f"{site}/subscribe/{newsletter.slug}/")
    sign_up(page, "one.more@example.com")
    audit("too many attempts (429)", "Too many attempts")

    assert audit.found == {}


def test_the_emails_pass_axe(page, site, mailoutbox):
    stub_the_internet(page.context, site)
    newsletter = Newsletter.objects.get(slug="field-notes")
    page.goto(f"{site}/subscribe/{newsletter.slug}/")
    sign_up(page, "new.reader@example.com")
    page.get_by_role("heading", name="Check your inbox").wait_for()
    confirmation = email_to("new.reader@example.com", "Confirm your subscription")
    tab = click_in_email(page, confirmation, "Yes, subscribe me")
    tab.get_by_role("button", name="Yes, subscribe me").click()
    tab.get_by_role("heading", name="You are subscribed").wait_for()
    welcome = email_to("new.reader@example.com", "Welcome to")
    page.goto(f"{site}/subscribe/{newsletter.slug}/")
    sign_up(page, "ada.reader@example.com")
    page.get_by_role("heading", name="Check your inbox").wait_for()
    already = email_to("ada.reader@example.com", "You are already subscribed")
    send_test_issue(Issue.objects.get(newsletter=newsletter, number=1), to="ada.reader@example.com")
    issue = email_to("ada.reader@example.com", "The year CSS learned to look up")
    audit = Audit(page)

    emails = {
        "confirmation email": confirmation,
        "welcome email": welcome,
        "already subscribed email": already,
        "issue email": issue,
    }
    ada = Subscriber.objects.get(email="ada.reader@example.com")
    for purpose, subject in READER_LINK_SUBJECTS.items():
        send_reader_link(ada, purpose)
        emails[f"{purpose} link email"] = email_to(ada.email, str(subject))
    for name, message in emails.items():
        open_email(page, message)
        audit(name)

    assert audit.found == {}
