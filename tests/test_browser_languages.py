"""A German newsletter's reader in Chromium, at phone and desktop widths:
German words run longer than English ones, and no button, heading or field
may overflow its box or make the page scroll sideways on a 375 px phone."""

import pytest

from mail import links
from subscribers.emails import send_confirm
from tests.builders import make_newsletter, make_reader, make_subscription
from tests.helpers import PHONE, email_to, open_email, shoot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]

# Boxes whose text must stay inside them, and inside the window.
CLIPPED = """() => {
  const width = document.documentElement.clientWidth;
  return [...document.querySelectorAll('button, .button, h1, h2, label, legend, input')]
    .filter(e => !e.closest('[aria-hidden="true"]'))  // the honeypot, hidden on purpose
    .filter(e => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > width + 1)
    .map(e => (e.textContent || e.value || e.name).trim().slice(0, 60));
}"""


@pytest.fixture
def german(settings, live_server):
    settings.SITE_URL = live_server.url
    settings.RATELIMIT_ENABLED = False
    return make_newsletter(
        "feldpost",
        name="Feldpost Datenschutzgrundverordnungsbrief",
        language="de",
        description="Jeden Monat eine Handvoll Fundstücke aus der Datenwissenschaft.",
        sender_name="Mara Quist",
        postal_address="Hafenstraße 14\n20459 Hamburg",
    )


def clipped(page) -> list[str]:
    return page.evaluate(CLIPPED)


def test_a_german_signup_page_fits_a_phone_and_a_desktop(page, live_server, german):
    page.goto(f"{live_server.url}/subscribe/feldpost/")
    page.get_by_role(
        "heading", name="Feldpost Datenschutzgrundverordnungsbrief abonnieren"
    ).wait_for()
    assert page.locator("html").get_attribute("lang") == "de"
    shoot(page, "signup-de")
    page.set_viewport_size(PHONE)
    assert clipped(page) == []

    # A mistake the browser lets through, said in German under the field it is about.
    page.get_by_label("E-Mail-Adresse").fill("rosa@example")
    page.get_by_role("button", name="Abonnieren").click()
    page.get_by_text("Der Teil nach dem @-Zeichen ist ungültig.").wait_for()
    shoot(page, "signup-de-mistake")
    page.set_viewport_size(PHONE)
    assert clipped(page) == []

    page.get_by_label("E-Mail-Adresse").fill("rosa@example.com")
    page.get_by_role("button", name="Abonnieren").click()
    page.get_by_role("heading", name="Prüfen Sie Ihr Postfach").wait_for()
    shoot(page, "check-inbox-de")


def test_a_german_readers_pages_and_email_fit_a_phone(page, live_server, german, mailoutbox):
    reader = make_reader(german, "rosa@example.com")
    make_newsletter("zweitpost", name="Zweitpost", language="de")
    pages = {
        "preferences-de": links.preferences_url(reader.subscriber, german),
        "unsubscribe-de": links.unsubscribe_url(reader),
    }
    for name, url in pages.items():
        page.goto(url)
        assert page.locator("html").get_attribute("lang") == "de"
        shoot(page, name)
        page.set_viewport_size(PHONE)
        assert clipped(page) == [], name

    send_confirm(make_subscription(german, "pia@example.com", status="pending"))
    confirmation = email_to("pia@example.com", "Bestätigen Sie Ihr Abonnement")
    page.set_viewport_size(PHONE)
    open_email(page, confirmation)
    shoot(page, "confirm-email-de")
