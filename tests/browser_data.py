"""Helpers shared by the browser tests (tests/test_browser_*.py): emails opened
the way a mail client shows them, the admin's real login form, and screenshots
at a phone's and a desktop's width."""

import io
import re
from html import escape

from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from newsletter.models import Click, Delivery, Feedback, Issue
from tests.conftest import screenshot
from tests.subscriber_data import html_of

PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}

# Any address outside the live server: tests never reach the internet, the
# browser gets a stub page instead (see stub_the_internet).
OUTSIDE = re.compile(r"^https?://(?!localhost[:/]|127\.0\.0\.1[:/])")
ELSEWHERE = "<!doctype html><title>Elsewhere</title><h1>Somewhere else on the web</h1>"


def demo_site(settings, live_server) -> str:
    """The demo newsletter (seed_demo) on the live test server, whose address the
    emails link to; signup limits would trip on the one IP the tests come from."""
    call_command("seed_demo", stdout=io.StringIO())
    settings.SITE_URL = live_server.url
    settings.RATELIMIT_ENABLED = False
    return live_server.url


def stub_the_internet(context, site: str) -> list[str]:
    """Answer the browser's requests that leave the live server with a small page;
    the pages it went to out there, in order (emails also fetch a web font)."""
    asked: list[str] = []

    def outside(route):
        if route.request.is_navigation_request():
            asked.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body=ELSEWHERE)

    def redirect_out(route):
        response = route.fetch(max_redirects=0)
        location = response.headers.get("location", "")
        if 300 <= response.status < 400 and OUTSIDE.match(location):
            # Chromium follows a redirect inside its network stack, where Playwright
            # cannot route the next hop: hand the hop to the browser as a navigation.
            refresh = f'<meta http-equiv="refresh" content="0;url={escape(location)}">'
            route.fulfill(status=200, content_type="text/html", body=refresh)
        else:
            route.fulfill(response=response)

    context.route(OUTSIDE, outside)
    context.route(re.compile(re.escape(site) + "/l/"), redirect_out)
    return asked


def sign_up(page, address: str, name: str = "") -> None:
    """Fill in the signup form the page shows and press Subscribe."""
    page.get_by_label("Email address").fill(address)
    if name:
        page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Subscribe").click()


def email_to(address: str, subject: str):
    """The one message in the outbox to `address` whose subject contains `subject`."""
    [message] = [m for m in mail.outbox if address in m.to and subject in m.subject]
    return message


def open_email(page, message) -> None:
    """Show the message's HTML part in the browser, as a webmail client would."""
    page.set_content(html_of(message))


def click_in_email(page, message, link_name: str):
    """Open the email and click its link named `link_name`; the tab the link opened in
    (email buttons open a new one, as in most mail clients)."""
    open_email(page, message)
    link = page.get_by_role("link", name=link_name, exact=True)
    if link.get_attribute("target") != "_blank":
        link.click()
        return page
    with page.context.expect_page() as opened:
        link.click()
    tab = opened.value
    tab.set_viewport_size(DESKTOP)
    return tab


def log_in(page, base_url: str, username: str, password: str) -> None:
    """Through the admin's own login form, as an editor would."""
    page.goto(f"{base_url}/admin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Site administration").wait_for()


def overflow(page) -> int:
    """How many CSS pixels the page is wider than the window (0: no sideways scrolling)."""
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def shoot(page, name: str, *, fits_phone: bool = True) -> dict[int, int]:
    """Full-page screenshots at 1280 and 375 px wide (artifacts/screenshots/<name>-<width>.png).

    Returns the sideways overflow seen at each width; with fits_phone, a page
    that scrolls sideways on a phone fails the test."""
    seen = {}
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        seen[size["width"]] = overflow(page)
        # A window as tall as the page: frames below the fold are painted too.
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
        screenshot(page, f"{name}-{size['width']}")
    page.set_viewport_size(DESKTOP)
    if fits_phone:
        assert seen == {1280: 0, 375: 0}, f"{name} scrolls sideways: {seen}"
    return seen


def add_engagement(issue: Issue) -> None:
    """What readers did with a sent issue: deliveries confirmed, a few clicks and answers."""
    now = timezone.now()
    deliveries = list(issue.deliveries.order_by("pk"))
    links = [link for section in issue.sections.all() for link in section.links.all()]
    Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(delivered_at=now)
    for n, delivery in enumerate(deliveries):
        for link in links[n % 3 : n % 3 + 1 + n % 2]:
            Click.objects.create(link=link, delivery=delivery, created=now)
        Delivery.objects.filter(pk=delivery.pk).update(clicked_at=now)
        answer = Feedback.Answer.values[n % 2]
        Feedback.objects.create(delivery=delivery, answer=answer)
