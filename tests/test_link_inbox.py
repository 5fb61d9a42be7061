"""The link inbox: links collected during the month, one entry per page, read
from their pages, moved into a draft's sections; `manage.py add_link`."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from newsletter.curation.inbox import inbox_add, inbox_move, urls_in
from newsletter.models import InboxLink, Issue, IssueFrozen
from tests.builders import make_issue, make_newsletter
from tests.page_site import opengraph_page

pytestmark = pytest.mark.django_db


def add_link(*args) -> str:
    out = io.StringIO()
    call_command("add_link", *args, stdout=out)
    return out.getvalue()


def test_the_same_page_twice_is_one_entry(django_capture_on_commit_callbacks):
    newsletter = make_newsletter()
    with django_capture_on_commit_callbacks() as fetches:
        first, created = inbox_add(
            newsletter=newsletter, url="https://www.Example.org/post/?utm_source=x"
        )
        again, created_again = inbox_add(
            newsletter=newsletter, url="example.org/post#comments", note="for Research"
        )
    assert created and not created_again and again.pk == first.pk
    assert InboxLink.objects.get().note == "for Research"
    assert len(fetches) == 1  # the page is read once


def test_each_newsletter_has_its_own_inbox():
    inbox_add(newsletter=make_newsletter(), url="https://example.org/a")
    inbox_add(newsletter=make_newsletter("other"), url="https://example.org/a")
    assert InboxLink.objects.count() == 2


@pytest.mark.parametrize(
    "url, words",
    [
        ("javascript:alert(1)", "http:// or https://"),
        ("data:text/html,<script>", "http:// or https://"),
        ("https://example.org/" + "a" * 2000, "at most 2000 characters"),
        ("not a link", "valid URL"),
    ],
)
def test_a_bad_link_is_refused_and_nothing_is_stored(url, words):
    with pytest.raises(ValidationError, match=words):
        inbox_add(newsletter=make_newsletter(), url=url)
    assert not InboxLink.objects.exists()


def test_a_paste_gives_every_link_in_order_once():
    text = "https://a.example/1\n  <https://b.example/2>, example.org/3 https://a.example/1"
    assert urls_in(text) == ["https://a.example/1", "https://b.example/2", "https://example.org/3"]
    with pytest.raises(ValidationError, match="“javascript:alert"):
        urls_in("https://a.example/1 javascript:alert(1)")


def test_add_link_puts_the_page_in_the_inbox_titled(pages, django_capture_on_commit_callbacks):
    url = pages.add("/gpt", opengraph_page("What a language model learns", "Daily Tensor", "…"))
    make_newsletter()

    with django_capture_on_commit_callbacks(execute=True):  # the worker's fetch, here
        added = add_link("ml-monthly", url, "--note", "lead story?")
    assert "Added to ML Monthly's inbox" in added
    assert "Already in ML Monthly's inbox" in add_link("ml-monthly", url + "/")
    entry = InboxLink.objects.get()
    assert (entry.title, entry.source, entry.note) == (
        "What a language model learns",
        "Daily Tensor",
        "lead story?",
    )


@pytest.mark.parametrize(
    "args, words",
    [
        (("nope", "https://example.org/"), r"No newsletter “nope” \(there are: ml-monthly\)"),
        (("ml-monthly", "javascript:alert(1)"), "http:// or https://"),
        (("ml-monthly", "https://example.org/", "--note", "n" * 2001), "at most 2000"),
    ],
)
def test_add_link_refuses_bad_input_clearly(args, words):
    make_newsletter()
    with pytest.raises(CommandError, match=words):
        add_link(*args)
    assert not InboxLink.objects.exists()


def test_moving_makes_links_at_the_end_of_the_section_and_empties_the_inbox():
    issue = make_issue(make_newsletter())
    section = issue.sections.get()
    entries = [
        InboxLink.objects.create(
            newsletter=issue.newsletter,
            url=f"https://example.org/{n}",
            url_key=str(n),
            title=f"Page {n}",
            source="Example",
            note="my note" if n == 1 else "",
        )
        for n in (1, 2)
    ]
    inbox_move(entries=entries, section=section)
    assert [(link.title, link.commentary) for link in section.links.all()] == [
        ("A paper worth reading", ""),
        ("Page 1", "my note"),
        ("Page 2", ""),
    ]
    assert not InboxLink.objects.exists()


def test_moving_into_a_sent_issue_is_refused_and_keeps_the_inbox():
    issue = make_issue(make_newsletter())
    Issue.objects.filter(pk=issue.pk).update(status=Issue.Status.SENT)
    entry = InboxLink.objects.create(newsletter=issue.newsletter, url="https://e.org/", url_key="k")
    with pytest.raises(IssueFrozen):
        inbox_move(entries=[entry], section=issue.sections.get())
    assert InboxLink.objects.count() == 1 and issue.sections.get().links.count() == 1


def test_a_pasted_link_keeps_its_own_brackets_and_loses_the_prose_around_it():
    pasted = (
        "https://en.wikipedia.org/wiki/Python_(programming_language) "
        "(https://example.org/a). <https://example.net/b>, https://example.com/q?a=(1)"
    )
    assert urls_in(pasted) == [
        "https://en.wikipedia.org/wiki/Python_(programming_language)",
        "https://example.org/a",
        "https://example.net/b",
        "https://example.com/q?a=(1)",
    ]
    # The bookmarklet's one address is the page's, to the last character.
    assert urls_in("https://example.org/ends-with-a-dot.") == [
        "https://example.org/ends-with-a-dot."
    ]
