"""RFC 8058 one-click unsubscribe: the URL comes from the List-Unsubscribe
header of a real welcome email; the POST carries no cookies and no CSRF token."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from mail import links, tokens
from subscribers.emails import send_welcome
from tests.builders import make_newsletter, make_subscription
from tests.helpers import path_of, status_of

pytestmark = pytest.mark.django_db
BODY = "List-Unsubscribe=One-Click"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def reader():
    return make_subscription(make_newsletter(), "reader@example.com", "confirmed")


@pytest.fixture
def one_click_path(reader, mailoutbox):
    send_welcome(reader)
    [welcome] = mailoutbox
    assert welcome.extra_headers["List-Unsubscribe-Post"] == BODY
    header = welcome.extra_headers["List-Unsubscribe"]
    assert header.startswith("<https://") or header.startswith("<http://")
    return path_of(header.strip("<>"))


def fresh_client() -> Client:
    return Client(enforce_csrf_checks=True)


def test_it_unsubscribes_a_cookieless_post_and_answers_200(reader, one_click_path):
    client = fresh_client()
    assert not client.cookies
    response = client.post(one_click_path, BODY, content_type=FORM)
    assert response.status_code == 200
    assert "Location" not in response
    assert status_of(reader) == "unsubscribed"
    reader.refresh_from_db()
    assert reader.reason == "one-click"


def test_it_accepts_the_body_as_multipart_form_data(reader, one_click_path):
    response = fresh_client().post(one_click_path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert status_of(reader) == "unsubscribed"


def test_it_still_unsubscribes_with_the_header_of_an_email_of_long_ago(reader):
    with freeze_time(timezone.now() - timedelta(days=800)):
        path = path_of(links.one_click_url(reader))
    response = fresh_client().post(path, BODY, content_type=FORM)
    assert response.status_code == 200
    assert status_of(reader) == "unsubscribed"


def test_it_answers_200_again_when_already_unsubscribed(reader, one_click_path):
    fresh_client().post(one_click_path, BODY, content_type=FORM)
    response = fresh_client().post(one_click_path, BODY, content_type=FORM)
    assert response.status_code == 200
    assert status_of(reader) == "unsubscribed"


@pytest.mark.parametrize(
    "body",
    ["", "List-Unsubscribe=Yes", "one-click", "List-Unsubscribe=One-Click&List-Unsubscribe=No"],
)
def test_it_refuses_any_other_body_and_changes_nothing(reader, one_click_path, body):
    response = fresh_client().post(one_click_path, body, content_type=FORM)
    assert response.status_code == 400
    assert status_of(reader) == "confirmed"


def test_it_refuses_a_get(reader, one_click_path):
    response = fresh_client().get(one_click_path)
    assert response.status_code == 405
    assert status_of(reader) == "confirmed"


def test_it_refuses_a_tampered_token(reader, one_click_path):
    response = fresh_client().post(
        one_click_path.replace("/one-click/", "x/one-click/"), BODY, content_type=FORM
    )
    assert response.status_code == 400
    assert status_of(reader) == "confirmed"


def test_it_refuses_a_confirm_token(reader):
    token = links.confirm_url(reader).rstrip("/").rsplit("/", 1)[1]
    path = reverse("unsubscribe_one_click", args=[token])
    assert fresh_client().post(path, BODY, content_type=FORM).status_code == 400
    assert status_of(reader) == "confirmed"


def test_it_refuses_one_newsletters_token_for_another(reader):
    other = make_newsletter("rust-notes", name="Rust Notes")
    token = tokens.make_token("unsubscribe", {"s": reader.pk, "n": other.pk})
    path = reverse("unsubscribe_one_click", args=[token])
    assert fresh_client().post(path, BODY, content_type=FORM).status_code == 400
    assert status_of(reader) == "confirmed"


def test_it_refuses_a_malformed_multipart_body(reader, one_click_path):
    response = fresh_client().post(
        one_click_path, b"--x\r\nbroken", content_type="multipart/form-data; boundary=x"
    )
    assert response.status_code == 400
    assert status_of(reader) == "confirmed"
