"""An editor in Chromium builds the reference issue (4 sections, 11 links, a
few lines on each) from links whose pages describe themselves, served by a
local test site: titles and sources arrive filled in, and every action besides
typing the 11 commentaries and 4 section titles is counted (one click, one
other field filled, one paste or one drag each). Then an unsaved subject is
saved on the way to Preview and to Send now, leaving with unsaved changes is
questioned, and the preview shows desktop and phone side by side."""

import io

import pytest
from django.core.management import call_command

from newsletter.models import InboxLink, Issue, Newsletter
from tests.builders import EDITOR_PERMS, make_editor
from tests.helpers import demo_site, log_in, shoot
from tests.page_site import json_ld_page, opengraph_page, plain_page, twitter_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]

PASSWORD = "correct horse battery"  # tests.builders.make_editor's
MAX_ACTIONS = 25  # the acceptance bar; typing the issue's own words is not counted

# The reference issue's shape: (section title, [(path, page kind, title, site)]).
ISSUE = [
    (
        "🛠️ What I made",
        [
            ("/roadmap", "og", "The machine learning map, walked through", "Field Workshop"),
            ("/interview", "og", "A conversation on learning in public", "Data Hour"),
        ],
    ),
    (
        "🌍 The best from the internet",
        [
            ("/language-models", "json-ld", "What a language model learns", "Daily Tensor"),
            ("/prompting", "og", "Prompts as programs", "The Gradient Post"),
            ("/demos", "twitter", "A gallery of surprising demos", ""),
            ("/cost", "title", "The cost of training large models", ""),
        ],
    ),
    (
        "🔬 Research",
        [
            ("/few-shot", "json-ld", "Learning from a handful of examples", "Preprint Digest"),
            ("/benchmarks", "og", "Benchmarks that measure the right thing", "Lab Notes"),
            ("/vision", "og", "Images as sequences of patches", "Lab Notes"),
        ],
    ),
    (
        "📚 Learn",
        [
            ("/course", "og", "A free course on practical deep learning", "Open Course Hub"),
            ("/notebooks", "title", "Notebooks that teach by doing", ""),
        ],
    ),
]
FROM_THE_INBOX = {"/interview", "/notebooks"}  # collected during the month with add_link


def serve(pages) -> dict[str, str]:
    """Each page on the local site; path → URL."""
    urls = {}
    for _, links in ISSUE:
        for path, kind, title, site in links:
            about = f"Notes on {title.lower()}, with examples."
            if kind == "og":
                html = opengraph_page(title, site, about)
            elif kind == "json-ld":
                html = json_ld_page(title, site, about)
            elif kind == "twitter":
                html = twitter_page(title, about)
            else:
                html = plain_page(title, about)
            urls[path] = pages.add(path, html)
    return urls


class Counted:
    """The editor's actions, counted; typing the issue's own words is not."""

    def __init__(self, page):
        self.page, self.actions = page, []

    def click(self, locator, what: str) -> None:
        self.actions.append(f"click {what}")
        locator.click()

    def fill(self, locator, text: str, what: str) -> None:
        self.actions.append(f"fill {what}")
        locator.fill(text)

    def paste(self, locator, text: str, what: str) -> None:
        self.actions.append(f"paste {what}")
        locator.fill(text)

    def choose(self, locator, label: str, what: str) -> None:
        self.actions.append(f"choose {what}")
        locator.select_option(label=label)

    @staticmethod
    def write(locator, text: str) -> None:
        """The issue's own words: a commentary or a section title."""
        locator.fill(text)


def link_rows(page, section: int) -> list[tuple[str, str]]:
    rows = page.locator(f"#sections-{section}-links-group .djn-inline-form:not(.djn-empty-form)")
    return [
        (
            rows.nth(n).locator("input[name$='-title']").input_value(),
            rows.nth(n).locator("input[name$='-source']").input_value(),
        )
        for n in range(rows.count())
    ]


def expected(links) -> list[tuple[str, str]]:
    return [(title, site or "127.0.0.1") for _, _, title, site in links]


@pytest.fixture
def site(settings, live_server):
    return demo_site(settings, live_server)


def test_an_editor_builds_the_reference_issue_in_few_actions(page, site, pages):
    urls = serve(pages)
    newsletter = Newsletter.objects.get(slug="applied-ml-monthly")
    for path in sorted(FROM_THE_INBOX):
        call_command(
            "add_link",
            newsletter.slug,
            urls[path],
            "--note",
            "For the next issue.",
            stdout=io.StringIO(),
        )
    make_editor("mara", perms=(*EDITOR_PERMS, "send_issue"))
    log_in(page, site, "mara", PASSWORD)
    editor = Counted(page)

    editor.click(page.get_by_role("link", name="Issues").first, "Issues")
    editor.click(page.get_by_role("link", name="Add issue"), "Add issue")
    editor.choose(page.get_by_label("Newsletter"), newsletter.name, "newsletter")
    assert page.get_by_label("Number").input_value() == str(newsletter.next_issue_number())
    editor.fill(page.get_by_label("Subject"), "Language models, and how to learn them", "subject")
    editor.fill(page.locator("#id_intro"), "Hello again: a month of big models.", "intro")
    for s, (title, links) in enumerate(ISSUE):
        editor.click(page.get_by_role("link", name="Add another Section"), "add a section")
        editor.write(page.locator(f"#id_sections-{s}-title"), title)
        pasted = [urls[path] for path, *_ in links if path not in FROM_THE_INBOX]
        editor.paste(page.locator(f"#id_sections-{s}-paste"), "\n".join(pasted), "links")
    editor.click(page.get_by_role("button", name="Save and continue editing"), "save")
    page.get_by_text("was added successfully").wait_for()

    # Titles and sources arrived from the pages; the two inbox links wait to be moved.
    for s, (_, links) in enumerate(ISSUE):
        assert link_rows(page, s) == expected(
            [link for link in links if link[0] not in FROM_THE_INBOX]
        )
    for path, s in (("/interview", 0), ("/notebooks", 3)):
        entry = InboxLink.objects.get(url=urls[path])
        editor.choose(page.get_by_label(f"Move “{entry.title}” into"), ISSUE[s][0], "move")
    for s in range(4):
        for n in range(len(link_rows(page, s))):
            editor.write(page.locator(f"#id_sections-{s}-links-{n}-commentary"), f"Why {s}.{n}.")
    editor.click(page.get_by_role("button", name="Save and continue editing"), "save")
    page.get_by_text("was changed successfully").wait_for()

    for s, (_, links) in enumerate(ISSUE):  # the inbox links at the end of their sections
        assert sorted(link_rows(page, s)) == sorted(expected(links))
    for s, n in ((0, 1), (3, 1)):
        editor.write(page.locator(f"#id_sections-{s}-links-{n}-commentary"), f"Why {s}.{n}.")
    editor.click(page.get_by_role("button", name="Save and continue editing"), "save")
    page.get_by_text("was changed successfully").wait_for()

    issue = Issue.objects.get(newsletter=newsletter, subject__startswith="Language models")
    links = [link for section in issue.sections.all() for link in section.links.all()]
    assert len(links) == 11 and all(link.title and link.commentary for link in links)
    assert not InboxLink.objects.filter(newsletter=newsletter).exists()
    print(f"\n{len(editor.actions)} actions: {editor.actions}")
    assert len(editor.actions) <= MAX_ACTIONS, editor.actions
    shoot(page, "admin-workbench", fits_phone=False)

    # Sections fold away behind their title bars.
    page.locator("#sections-1 .section-toggle").click()
    assert not page.locator("#id_sections-1-title").is_visible()
    page.locator("#sections-1 .section-toggle").click()
    assert page.locator("#id_sections-1-title").is_visible()

    # Leaving with unsaved changes asks first.
    page.get_by_label("Subject").fill("A subject not saved yet")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    page.locator(".breadcrumbs").get_by_role("link", name="Home").click()
    page.wait_for_timeout(300)
    assert asked == ["beforeunload"]
    assert page.get_by_label("Subject").input_value() == "A subject not saved yet"

    # Preview saves first: it shows the subject just typed, desktop and phone side by side.
    page.get_by_role("link", name="Preview & send test").click()
    page.get_by_role("heading", name=f"Preview of #{issue.number}").wait_for()
    assert "A subject not saved yet" in page.locator(".preview-meta").inner_text()
    desktop = page.get_by_title("Email preview, desktop width").bounding_box()
    phone = page.get_by_title("Email preview, phone width").bounding_box()
    assert phone["y"] == desktop["y"] and phone["x"] > desktop["x"] + desktop["width"]
    assert phone["x"] + phone["width"] <= 1280
    shoot(page, "admin-preview-side-by-side", fits_phone=False)

    # So does Send now: the confirmation is for the issue as just typed.
    page.go_back()
    page.get_by_label("Subject").fill("The subject that goes out")
    page.get_by_role("link", name="Send now…").click()
    page.wait_for_url("**/sending/send/")
    issue.refresh_from_db()
    assert issue.subject == "The subject that goes out" and issue.status == Issue.Status.DRAFT
