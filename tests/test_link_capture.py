"""Collecting links into the inbox from the admin: the page the bookmarklet
opens (on our origin, the editor's session applies) and a paste of many."""

from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from newsletter.models import InboxLink
from tests.builders import make_editor, make_newsletter
from tests.page_site import opengraph_page

pytestmark = pytest.mark.django_db

CAPTURE = reverse("admin:newsletter_inboxlink_capture")


@pytest.fixture
def editor(client):
    user = make_editor()
    client.force_login(user)
    return user


def test_the_bookmarklet_opens_the_page_with_the_link_filled_in(client, editor):
    make_newsletter()
    page = client.get(reverse("admin:newsletter_inboxlink_changelist")).content.decode()
    assert (
        "javascript:void(window.open(&#x27;http://testserver/admin/newsletter/inboxlink/capture/?url="
        in page
    )

    page = client.get(CAPTURE, {"url": "https://example.org/post?a=1&b=2"}).content.decode()
    assert "https://example.org/post?a=1&amp;b=2</textarea>" in page
    assert not InboxLink.objects.exists()  # a GET adds nothing


def test_adding_reads_the_titles_and_the_same_page_twice_is_one(client, editor, pages, post):
    newsletter = make_newsletter()
    one = pages.add("/one", opengraph_page("Small models, big wins", "The Gradient", "Why."))
    two = pages.add("/two", "<p>A page that says nothing about itself</p>")
    data = {"newsletter": newsletter.pk, "urls": f"{one}\n{two}"}
    assert post(CAPTURE, data).status_code == 302
    response = post(
        CAPTURE, {"newsletter": newsletter.pk, "urls": f"{one}/?utm_source=x"}, follow=True
    )

    page = unescape(response.content.decode())
    assert "0 links added to ML Monthly's inbox; 1 already there" in page
    assert sorted(InboxLink.objects.values_list("title", "source")) == [
        ("", "127.0.0.1"),
        ("Small models, big wins", "The Gradient"),
    ]


@pytest.mark.parametrize(
    "urls, words",
    [
        ("https://example.org/ok javascript:alert(1)", "Not a web address"),
        ("x" * 20001, "at most 20000 characters"),
        ("http://[::1", "Not a web address"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_adds_nothing(client, editor, urls, words):
    newsletter = make_newsletter()
    response = client.post(CAPTURE, {"newsletter": newsletter.pk, "urls": urls})
    assert response.status_code == 200
    assert words in response.content.decode()
    assert not InboxLink.objects.exists()


def test_a_private_address_is_kept_with_the_reason_it_was_not_read(client, editor, settings, post):
    settings.FETCH_ALLOW_LOOPBACK = False
    post(CAPTURE, {"newsletter": make_newsletter().pk, "urls": "http://127.0.0.1:8000/admin/"})
    entry = InboxLink.objects.get()
    assert entry.title == "" and "loopback" in entry.page_error


def test_only_staff_who_may_add_links_get_the_page(client):
    make_newsletter()
    client.force_login(make_editor("reader", perms=("view_inboxlink",)))
    assert client.get(CAPTURE).status_code == 403
    client.logout()
    assert client.get(CAPTURE)["Location"].startswith("/admin/login/")


def test_the_page_refuses_a_post_from_another_site(editor):
    other_site = Client(enforce_csrf_checks=True)
    other_site.force_login(editor)
    newsletter = make_newsletter()
    response = other_site.post(CAPTURE, {"newsletter": newsletter.pk, "urls": "https://e.org/"})
    assert response.status_code == 403
    assert not InboxLink.objects.exists()
