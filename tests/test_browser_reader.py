"""A reader in Chromium: signup → confirm from the email → welcome → the issue
arrives → its web version → a tracked link → unsubscribe from the email →
resubscribe on the preferences page. Every link is clicked in the email itself."""

import pytest

from newsletter.models import Click, Issue, Link
from subscribers.models import Subscription
from tests.helpers import (
    click_in_email,
    demo_site,
    email_to,
    html_of,
    send_issue,
    shoot,
    sign_up,
    stub_the_internet,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]

NAME = "Field Notes on the Web"
READER = "rosa.reader@example.com"


@pytest.fixture
def site(settings, live_server):
    return demo_site(settings, live_server)


def subscription() -> Subscription:
    return Subscription.objects.get(subscriber__email=READER, newsletter__slug="field-notes")


def test_it_takes_a_reader_from_signup_to_resubscribed(page, site, mailoutbox):
    outside = stub_the_internet(page.context, site)
    # Signup: from the list of newsletters to the form.
    page.goto(f"{site}/subscribe/")
    page.get_by_role("link", name=f"Subscribe to {NAME}").click()
    page.get_by_role("heading", name=f"Subscribe to {NAME}").wait_for()
    shoot(page, "signup")
    sign_up(page, READER, "Rosa")
    page.get_by_role("heading", name="Check your inbox").wait_for()
    assert subscription().status == "pending"

    # The confirmation email's button opens a page that asks; only its button confirms.
    confirmation = email_to(READER, f"Confirm your subscription to {NAME}")
    tab = click_in_email(page, confirmation, "Yes, subscribe me")
    tab.get_by_role("heading", name="Confirm your subscription").wait_for()
    assert "ro…@example.com" in tab.locator("main").inner_text()
    assert subscription().status == "pending"
    shoot(tab, "confirm")
    tab.get_by_role("button", name="Yes, subscribe me").click()
    tab.get_by_role("heading", name="You are subscribed").wait_for()
    assert subscription().status == "confirmed"
    welcome = email_to(READER, f"Welcome to {NAME}")
    assert "Manage your subscription" in html_of(welcome)

    # The next issue goes out for real; the reader's copy carries their own links.
    issue = Issue.objects.get(newsletter__slug="field-notes", number=2)
    send_issue(issue)
    assert issue.status == Issue.Status.SENT
    email = email_to(READER, "Forms that forgive")

    tab = click_in_email(page, email, "View in your browser")
    tab.get_by_role("heading", name="Forms that forgive", level=1).wait_for()
    assert tab.url == f"{site}{issue.get_absolute_url()}"

    # A tracked link counts the click and lands on the URL the editor stored.
    link = Link.objects.filter(section__issue=issue).order_by("section__position", "position")[0]
    tab = click_in_email(page, email, link.title)
    tab.get_by_role("heading", name="Somewhere else on the web").wait_for()
    assert outside == [link.url]
    assert tab.url == link.url
    [click] = Click.objects.filter(link=link)
    assert click.delivery.subscriber.email == READER

    # Unsubscribe from the email's footer: the page asks, the button acts.
    tab = click_in_email(page, email, "Unsubscribe")
    tab.get_by_role("heading", name=f"Unsubscribe from {NAME}?").wait_for()
    assert subscription().status == "confirmed"
    tab.get_by_label("Too many emails").check()
    tab.get_by_role("button", name="Unsubscribe", exact=True).click()
    tab.get_by_role("heading", name="You are unsubscribed").wait_for()
    assert subscription().status == "unsubscribed"
    assert subscription().reason == "Too many emails"

    # The preferences link in the same email brings the reader back.
    tab = click_in_email(page, email, "Preferences")
    tab.get_by_role("heading", name="Your preferences").wait_for()
    ticked = tab.get_by_role("checkbox", name=NAME)
    assert not ticked.is_checked()
    shoot(tab, "preferences")
    ticked.check()
    tab.get_by_role("button", name="Save preferences").click()
    tab.get_by_text("Your preferences are saved.").wait_for()
    assert tab.get_by_role("checkbox", name=NAME).is_checked()
    assert subscription().status == "confirmed"


def test_a_reader_subscribes_where_they_read_without_javascript(browser, site, mailoutbox):
    """The issue page's own form, in a browser with scripts off that keeps no cookie of ours."""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    issue = Issue.objects.get(newsletter__slug="field-notes", number=1)
    page.goto(f"{site}{issue.get_absolute_url()}")
    page.get_by_role("link", name="Subscribe below").click()
    page.get_by_role("heading", name="Enjoyed this?").wait_for()
    sign_up(page, "nora.noscript@example.com", "Nora")
    page.get_by_role("heading", name="Check your inbox").wait_for()
    reader = Subscription.objects.get(subscriber__email="nora.noscript@example.com")
    assert (reader.newsletter.slug, reader.status) == ("field-notes", "pending")
    assert email_to("nora.noscript@example.com", f"Confirm your subscription to {NAME}")
    assert context.cookies() == []
    context.close()
