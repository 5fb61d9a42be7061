import pytest
from bs4 import BeautifulSoup
from django.test import Client
from django.urls import reverse

from newsletter.models import Issue
from subscribers.models import Subscriber, Subscription
from tests.builders import make_authored_issue, make_field_notes_newsletter
from tests.helpers import form_data, link_in, post_committed

pytestmark = pytest.mark.django_db

S = Issue.Status


@pytest.fixture
def newsletter():
    newsletter = make_field_notes_newsletter(description="Web things, **monthly**.")
    for number, status in enumerate([S.SENT, S.SENT, S.SCHEDULED, S.DRAFT, S.CANCELLED], 1):
        make_authored_issue(
            newsletter, number, subject=f"Subject {number} ({status})", status=status
        )
    return newsletter


def test_the_archive_lists_sent_issues_newest_first(client, newsletter):
    page = client.get(reverse("archive")).content.decode()
    assert "Field Notes" in page
    assert "Web things, <strong>monthly</strong>." in page
    assert page.index("Subject 2 (sent)") < page.index("Subject 1 (sent)")
    for status in ("scheduled", "draft", "cancelled"):
        assert f"({status})" not in page


def test_a_newsletter_archive_lists_only_its_sent_issues(client, newsletter):
    make_authored_issue(
        make_field_notes_newsletter("other", name="Other"), 9, subject="Elsewhere", status=S.SENT
    )
    page = client.get(reverse("archive_newsletter", args=["field-notes"])).content.decode()
    assert page.index("#2: Subject 2 (sent)") < page.index("#1: Subject 1 (sent)")
    assert "Elsewhere" not in page
    for status in ("scheduled", "draft", "cancelled"):
        assert f"({status})" not in page
    assert reverse("feed", args=["field-notes"]) in page
    assert reverse("signup", args=["field-notes"]) in page


def test_an_issue_page_shows_the_issue(client, newsletter):
    issue = newsletter.issues.get(number=2)
    make_authored_issue(newsletter, 6, subject="Full", status=S.SENT, sections=2, links=2)
    issue = newsletter.issues.get(number=6)
    page = client.get(issue.get_absolute_url()).content.decode()
    assert "<h1>Full</h1>" in page
    assert "Issue #6" in page
    assert "Section 1" in page and "Link 2.2" in page
    assert 'href="https://example.com/articles/2/2/' in page
    assert "Hello <strong>readers</strong>." in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page


@pytest.mark.parametrize("status", [S.DRAFT, S.SCHEDULED, S.CANCELLED])
def test_unsent_issue_pages_are_not_found(client, newsletter, status):
    issue = newsletter.issues.get(status=status)
    assert client.get(issue.get_absolute_url()).status_code == 404


@pytest.mark.parametrize("status", [S.SENDING, S.PAUSED])
def test_an_issue_page_opens_once_its_send_has_begun(client, newsletter, status):
    # Readers get the "view in your browser" link while the send is under way.
    issue = make_authored_issue(newsletter, 7, subject="Going out now", status=status)
    assert client.get(issue.get_absolute_url()).status_code == 200
    archive = client.get(reverse("archive_newsletter", args=["field-notes"])).content.decode()
    assert "Going out now" not in archive


def test_a_private_newsletter_has_no_archive_but_its_issues_open(client, newsletter):
    newsletter.is_public = False
    newsletter.save()
    assert client.get(reverse("archive_newsletter", args=["field-notes"])).status_code == 404
    assert "Field Notes" not in client.get(reverse("archive")).content.decode()
    issue = newsletter.issues.get(number=1)
    assert client.get(issue.get_absolute_url()).status_code == 200


def test_unknown_newsletters_and_issues_are_not_found(client, newsletter):
    assert client.get(reverse("archive_newsletter", args=["nope"])).status_code == 404
    assert client.get(reverse("issue_web", args=["field-notes", "99-nope"])).status_code == 404
    assert client.get(reverse("issue_web", args=["nope", "1-subject-1-sent"])).status_code == 404


# -- The signup form where readers read -------------------------------------------


@pytest.fixture
def reader(django_capture_on_commit_callbacks, settings):
    """A reader's browser without JavaScript and without our cookies (a mail
    app's, or a page a cache kept): it posts the form a page shows, as it is."""
    settings.RATELIMIT_ENABLED = False
    client = Client(enforce_csrf_checks=True)

    def sign_up(path: str, newsletter: str = "Field Notes", **typed):
        page = client.get(path)
        assert page.status_code == 200
        form = signup_form(page.content, newsletter)
        data = form_data(form, **typed)
        post = post_committed(client, django_capture_on_commit_callbacks, form["action"], data)
        return page, post

    return sign_up


def signup_form(html: bytes, newsletter: str):
    """The signup form of `newsletter` on a page (its Subscribe section)."""
    soup = BeautifulSoup(html, "html.parser")
    forms = [
        form
        for form in soup.select("form.signup-form")
        if f"receive {newsletter} by email" in form.get_text()
    ]
    assert len(forms) == 1, f"{len(forms)} signup forms for {newsletter}"
    return forms[0]


def test_an_issue_page_carries_the_signup_form_itself(client, newsletter):
    issue = newsletter.issues.get(number=2)
    response = client.get(issue.get_absolute_url())
    form = signup_form(response.content, "Field Notes")
    assert form["method"] == "post"
    labels = [label.get_text(" ", strip=True) for label in form.find_all("label")]
    assert labels[:2] == ["Email address", "Name (optional)"]
    assert form.find("button", type="submit").get_text(strip=True) == "Subscribe"
    # No token and no cookie: the page is the same for everyone, and works without script.
    assert not form.find("input", attrs={"name": "csrfmiddlewaretoken"})
    assert "csrftoken" not in response.cookies
    assert b"<script" not in response.content
    soup = BeautifulSoup(response.content, "html.parser")
    assert soup.select_one("a[href='#subscribe']").get_text() == "Subscribe below"


def test_signing_up_on_an_issue_page_sends_a_confirmation(reader, newsletter, mailoutbox):
    issue = newsletter.issues.get(number=2)
    _, answer = reader(issue.get_absolute_url(), email="Ann@Example.com", name="Ann")
    assert answer.status_code == 200
    assert "Check your inbox" in answer.text
    subscription = Subscription.objects.get()
    assert subscription.newsletter == newsletter
    assert subscription.status == "pending"
    assert (subscription.subscriber.email, subscription.subscriber.name) == (
        "ann@example.com",
        "Ann",
    )
    [message] = mailoutbox
    assert message.to == ["ann@example.com"]
    assert "Field Notes" in message.subject
    assert link_in(message, "/confirm/")


def test_a_bad_address_on_an_issue_page_gets_the_form_again_with_the_reason(
    reader, newsletter, mailoutbox
):
    issue = newsletter.issues.get(number=2)
    _, answer = reader(issue.get_absolute_url(), email="ann@example")
    assert answer.status_code == 400
    assert "It should have a period" in answer.text
    assert 'value="ann@example"' in answer.text
    assert not Subscriber.objects.exists()
    assert mailoutbox == []


def test_the_honeypot_on_an_issue_page_answers_as_if_it_worked(reader, newsletter, mailoutbox):
    issue = newsletter.issues.get(number=2)
    _, answer = reader(issue.get_absolute_url(), email="bot@example.com", website="http://spam")
    assert "Check your inbox" in answer.text
    assert not Subscriber.objects.exists()
    assert mailoutbox == []


@pytest.mark.parametrize("page", ["archive", "archive_newsletter"])
def test_the_archive_signs_readers_up_for_the_newsletter_whose_form_they_used(
    reader, newsletter, mailoutbox, page
):
    other = make_field_notes_newsletter("other", name="Other Notes")
    make_authored_issue(other, 1, subject="Elsewhere", status=S.SENT)
    path = reverse(page) if page == "archive" else other.get_absolute_url()
    shown, answer = reader(path, "Other Notes", email="bo@example.com")
    assert answer.status_code == 200
    assert Subscription.objects.get().newsletter == other
    [message] = mailoutbox
    assert "Other Notes" in message.subject
    if page == "archive":  # each newsletter its own form, with its own field ids
        soup = BeautifulSoup(shown.content, "html.parser")
        ids = [tag["id"] for tag in soup.find_all(id=True)]
        assert len(ids) == len(set(ids))
        assert signup_form(shown.content, "Field Notes")


# -- A page at a time ------------------------------------------------------------------


def make_sent_issues(newsletter, count: int, first: int = 10) -> None:
    for number in range(first, first + count):
        make_authored_issue(newsletter, number, subject=f"Subject {number} (sent)", status=S.SENT)


def listed(html: bytes) -> list[str]:
    soup = BeautifulSoup(html, "html.parser")
    return [link.get_text() for link in soup.select("ul.issues li > a")]


def test_a_newsletter_archive_goes_a_page_at_a_time_newest_first(client, newsletter):
    make_sent_issues(newsletter, 20)  # 22 sent issues in all
    path = reverse("archive_newsletter", args=["field-notes"])
    first = client.get(path)
    shown = listed(first.content)
    assert len(shown) == 20
    assert shown[0] == "#29: Subject 29 (sent)"
    soup = BeautifulSoup(first.content, "html.parser")
    assert soup.select_one("nav.pages a[rel=next]")["href"] == f"{path}?page=2"
    assert "Page 1 of 2" in soup.select_one("nav.pages").get_text()

    second = client.get(f"{path}?page=2")
    assert second.status_code == 200
    assert listed(second.content) == ["#2: Subject 2 (sent)", "#1: Subject 1 (sent)"]
    soup = BeautifulSoup(second.content, "html.parser")
    assert soup.select_one("nav.pages a[rel=prev]")["href"] == path
    assert not soup.select_one("nav.pages a[rel=next]")


def test_one_page_of_issues_has_no_page_navigation(client, newsletter):
    page = client.get(reverse("archive_newsletter", args=["field-notes"]))
    assert not BeautifulSoup(page.content, "html.parser").select_one("nav.pages")


@pytest.mark.parametrize("asked", ["3", "0", "-1", "two", "1.5", "", "9" * 5000, "%00"])
def test_a_page_that_is_not_there_is_a_clear_404(client, newsletter, asked):
    make_sent_issues(newsletter, 20)
    path = reverse("archive_newsletter", args=["field-notes"])
    response = client.get(path, {"page": asked})
    if asked == "":  # no number: the first page
        assert response.status_code == 200
        return
    assert response.status_code == 404
    assert "No such page" in response.text
    assert "the list has 2 pages" in response.text
    soup = BeautifulSoup(response.content, "html.parser")
    assert soup.find("a", string="Go to the first page")["href"] == path
    assert soup.find("a", string="Go to the last page")["href"] == f"{path}?page=2"


def test_the_index_shows_each_newsletters_latest_issues_and_links_to_the_rest(client, newsletter):
    make_sent_issues(newsletter, 6)  # 8 sent issues in all
    page = client.get(reverse("archive"))
    assert listed(page.content) == [f"#{n}: Subject {n} (sent)" for n in range(15, 10, -1)]
    soup = BeautifulSoup(page.content, "html.parser")
    more = soup.find("a", href=newsletter.get_absolute_url(), string=lambda s: "All" in s)
    assert more.get_text(strip=True) == "All 8 issues of Field Notes"


def test_the_index_goes_a_page_of_newsletters_at_a_time(client, newsletter):
    for n in range(10):
        make_field_notes_newsletter(f"letter-{n}", name=f"Letter {n}")
    first = client.get(reverse("archive")).text
    second = client.get(reverse("archive"), {"page": "2"}).text
    # By name: Field Notes, Letter 0 … Letter 8 on the first page, Letter 9 on the second.
    assert "Field Notes" in first and "Letter 8" in first and "Letter 9" not in first
    assert "Letter 9" in second and "Letter 8" not in second
    assert client.get(reverse("archive"), {"page": "3"}).status_code == 404


# -- What each page tells search engines and link previews ------------------------------


def head_of(client, path: str) -> dict[str, str]:
    """The page's description, canonical link, robots, Open Graph and Twitter tags."""
    response = client.get(path)
    assert response.status_code == 200
    soup = BeautifulSoup(response.content, "html.parser")
    found = {}
    for tag in soup.head.find_all("meta"):
        key = tag.get("property") or tag.get("name")
        if key and key not in ("viewport", "color-scheme"):
            assert key not in found, f"{key} twice"
            found[key] = tag["content"]
    for link in soup.head.find_all("link", rel=["canonical", "prev", "next"]):
        found[link["rel"][0]] = link["href"]
    return found


def test_an_issue_page_describes_itself_for_search_and_previews(client, newsletter, settings):
    settings.SITE_URL = "https://news.example.org"
    issue = make_authored_issue(
        newsletter,
        6,
        subject="Forms <b>that</b> forgive",
        preheader="Inputs, errors, and  more.",
        status=S.SENT,
    )
    url = "https://news.example.org" + issue.get_absolute_url()
    head = head_of(client, issue.get_absolute_url())
    assert head.pop("article:published_time").startswith(str(issue.sent_at.year))
    assert head == {
        "description": "Inputs, errors, and more.",
        "canonical": url,
        "og:type": "article",
        "og:title": "Forms that forgive",
        "og:description": "Inputs, errors, and more.",
        "og:url": url,
        "og:site_name": "Field Notes",
        "twitter:card": "summary",
        "twitter:title": "Forms that forgive",
        "twitter:description": "Inputs, errors, and more.",
    }


def test_without_a_preheader_an_issue_is_described_by_its_intro_in_plain_words(client, newsletter):
    intro = "Hello **readers**: [a link](https://example.org/x).\n\n" + "Words go on. " * 30
    issue = make_authored_issue(newsletter, 6, intro=intro, status=S.SENT)
    description = head_of(client, issue.get_absolute_url())["description"]
    assert description.startswith("Hello readers: a link. Words go on. Words")
    assert len(description) <= 160 and description.endswith(" on. Words…")  # whole words


def test_an_issue_of_a_newsletter_kept_off_the_archive_is_kept_out_of_search(client, newsletter):
    newsletter.is_public = False
    newsletter.save()
    head = head_of(client, newsletter.issues.get(number=1).get_absolute_url())
    assert head["robots"] == "noindex"
    assert "robots" not in head_of(client, make_field_notes_newsletter("open").get_absolute_url())


def test_archive_pages_describe_themselves_and_each_page_is_its_own(client, newsletter, settings):
    settings.SITE_URL = "https://news.example.org"
    make_sent_issues(newsletter, 20)
    path = newsletter.get_absolute_url()
    first = head_of(client, path)
    assert first["canonical"] == first["og:url"] == "https://news.example.org" + path
    assert first["description"] == first["og:description"] == "Web things, monthly."
    assert first["og:title"] == "Field Notes: past issues"
    assert first["next"] == f"{path}?page=2"
    second = head_of(client, f"{path}?page=2")
    assert second["canonical"] == f"https://news.example.org{path}?page=2"
    assert second["og:title"] == "Field Notes: past issues (page 2)"
    assert second["prev"] == path
    index = head_of(client, reverse("archive"))
    assert index["canonical"] == "https://news.example.org/archive/"
    assert index["description"].startswith("Every issue of the newsletters")
