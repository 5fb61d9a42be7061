"""An editor in Chromium: log in → build an issue with the nested inlines →
reorder sections and links by dragging → preview at desktop and phone widths →
send a test → schedule it; and the stats page of the issue sent before."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from newsletter.models import Issue, Section
from tests.builders import EDITOR_PERMS, add_engagement, make_editor
from tests.helpers import DESKTOP, demo_site, log_in, shoot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]

PASSWORD = "correct horse battery"  # tests.builders.make_editor's

SECTIONS = {
    "🔬 Research": [
        ("Why small models generalise", "https://research.example.org/small-models"),
        ("A benchmark that measures the right thing", "https://research.example.org/bench"),
    ],
    "🛠️ What I made": [
        ("A colour-contrast checker for email", "https://notes.example.com/contrast"),
        ("Twelve form patterns, tested with screen readers", "https://notes.example.com/forms"),
    ],
    "🌍 From around the web": [
        ("How one team halved its page weight", "https://blog.example.net/page-weight"),
        ("The quiet return of server-rendered pages", "https://blog.example.net/server-pages"),
    ],
}


@pytest.fixture
def site(settings, live_server):
    return demo_site(settings, live_server)


def drag(page, handle, onto) -> None:
    """Press a title bar, move in small steps to just above another, let go (jQuery UI sortable)."""
    start, end = handle.bounding_box(), onto.bounding_box()
    x = start["x"] + 60
    page.mouse.move(x, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(x, start["y"] + start["height"] / 2 + 10, steps=5)
    page.mouse.move(x, end["y"] + 2, steps=20)
    page.mouse.move(x, end["y"] - 1, steps=5)
    page.mouse.up()


def fill_issue(page) -> None:
    page.get_by_label("Newsletter").select_option(label="Field Notes on the Web")
    page.get_by_label("Number").fill("3")
    page.get_by_label("Subject").fill("Small models, careful measures")
    page.get_by_label("Preheader").fill("Three sections, six links, one sortable editor.")
    page.locator("#id_intro").fill("Hello again. This month: what *small* can do.")
    for s, (title, links) in enumerate(SECTIONS.items()):
        page.get_by_role("link", name="Add another Section").click()
        page.locator(f"#id_sections-{s}-title").fill(title)
        for n, (link_title, url) in enumerate(links):
            page.locator(f"#sections-{s}-links-group").get_by_role(
                "link", name="Add another Link"
            ).click()
            prefix = f"#id_sections-{s}-links-{n}"
            page.locator(f"{prefix}-title").fill(link_title)
            page.locator(f"{prefix}-url").fill(url)
            page.locator(f"{prefix}-source").fill("Example")
            page.locator(f"{prefix}-commentary").fill(f"Why *{link_title.lower()}* matters.")


def saved_order(issue: Issue) -> list[tuple[str, list[str]]]:
    return [
        (section.title, [link.title for link in section.links.all()])
        for section in Section.objects.filter(issue=issue).order_by("position", "pk")
    ]


def test_it_takes_an_issue_from_empty_form_to_scheduled(page, site, mailgun):
    make_editor("mara", perms=(*EDITOR_PERMS, "send_issue"))
    log_in(page, site, "mara", PASSWORD)

    page.get_by_role("link", name="Issues").first.click()
    page.get_by_role("link", name="Add issue").click()
    fill_issue(page)

    # Drag "What I made" above "Research", and the last section's second link above its first
    # (in a window tall enough to show both ends of each drag).
    page.set_viewport_size({"width": 1280, "height": 3200})
    drag(page, page.locator("#sections-1 > h3"), page.locator("#sections-0 > h3"))
    drag(page, page.locator("#sections-2-links-1 > h3"), page.locator("#sections-2-links-0 > h3"))
    page.set_viewport_size(DESKTOP)
    page.get_by_role("button", name="Save and continue editing").click()
    page.get_by_text("was added successfully").wait_for()

    issue = Issue.objects.get(newsletter__slug="field-notes", number=3)
    assert saved_order(issue) == [
        (
            "🛠️ What I made",
            [
                "A colour-contrast checker for email",
                "Twelve form patterns, tested with screen readers",
            ],
        ),
        (
            "🔬 Research",
            ["Why small models generalise", "A benchmark that measures the right thing"],
        ),
        (
            "🌍 From around the web",
            ["The quiet return of server-rendered pages", "How one team halved its page weight"],
        ),
    ]
    shoot(page, "admin-editor", fits_phone=False)

    # The preview shows the email at a desktop's and at a phone's width, without sideways scrolling.
    page.get_by_role("link", name="Preview & send test").click()
    page.get_by_role("heading", name="Preview of #3").wait_for()
    for frame, width in (
        ("Email preview, desktop width", 698),
        ("Email preview, phone width", 375),
    ):
        email = page.get_by_title(frame).element_handle().content_frame()
        assert email.get_by_text("Small models, careful measures").first.is_visible()
        assert email.evaluate("document.documentElement.clientWidth") == width
        assert email.evaluate("document.documentElement.scrollWidth") == width
    shoot(page, "admin-preview", fits_phone=False)

    # A test: exactly the reader's email, to the address typed, through the ESP.
    page.get_by_label("Send a test to").fill("proof@example.com")
    page.get_by_role("button", name="Send test").click()
    page.get_by_text("Test of #3 sent to proof@example.com.").wait_for()
    [test] = mailgun.messages_to("proof@example.com")
    assert test.subject == "[Test] Small models, careful measures"
    assert len(mailgun.messages) == 1

    # Schedule it for 09:30 on 2 March next year, in the newsletter's time zone.
    page.locator(".breadcrumbs").get_by_role("link", name=str(issue)).click()
    page.get_by_role("link", name="Schedule…").click()
    year = timezone.now().year + 1
    page.get_by_label("Send at").fill(f"{year}-03-02T09:30")
    page.get_by_role("button", name="Schedule", exact=True).click()
    page.get_by_text("is scheduled for").wait_for()
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SCHEDULED
    assert issue.send_at == datetime(year, 3, 2, 9, 30, tzinfo=ZoneInfo("Europe/London"))
    assert "Scheduled for" in page.locator("#sending").inner_text()


def test_it_shows_the_stats_of_a_sent_issue(page, site):
    make_editor("mara")
    sent = Issue.objects.get(newsletter__slug="field-notes", number=1)
    add_engagement(sent)
    log_in(page, site, "mara", PASSWORD)

    page.goto(f"{site}/admin/newsletter/issue/")
    page.get_by_role("link", name="Stats").click()
    page.get_by_role("heading", name=f"Stats for #1: {sent.subject}").wait_for()
    assert page.locator("svg").first.is_visible()  # the growth chart
    shoot(page, "admin-stats", fits_phone=False)
