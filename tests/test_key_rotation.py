"""Rotating SECRET_KEY: with the old key in SECRET_KEY_FALLBACKS the links
already in readers' inboxes keep working, signed payloads (unsubscribe,
preferences) and signed ids (a tracked link, a reader's key) alike; without
it they get the friendly "this link does not work" answer."""

import pytest
from django.test import override_settings

from mail import links, tokens
from newsletter.models import Click
from tests.builders import make_delivery, make_link, make_newsletter, make_reader, make_sent_issue
from tests.helpers import path_of, status_of
from tests.test_settings import manage

pytestmark = pytest.mark.django_db
OLD = "old-secret-key-for-the-rotation-test-" + "x" * 30
NEW = "new-secret-key-for-the-rotation-test-" + "y" * 30


@pytest.fixture
def reader():
    return make_reader(make_newsletter(), "reader@example.com")


@pytest.fixture
def inbox(reader):
    """The links of an issue a reader got before the key was rotated."""
    issue = make_sent_issue(reader.newsletter)
    link = make_link(issue, "https://example.org/paper")
    delivery = make_delivery(issue, reader)
    with override_settings(SECRET_KEY=OLD, SECRET_KEY_FALLBACKS=[]):
        return {
            "unsubscribe": path_of(links.unsubscribe_url(reader)),
            "preferences": path_of(links.preferences_url(reader.subscriber)),
            "click": f"/l/{tokens.link_token(link)}/{tokens.recipient_key(delivery.pk)}/",
            "link id": link.pk,
        }


def test_links_made_under_the_old_key_work_while_it_is_a_fallback(
    client, post, settings, reader, inbox
):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW, []
    assert client.get(inbox["preferences"]).status_code == 400
    assert client.get(inbox["click"]).status_code == 404
    assert Click.objects.count() == 0

    settings.SECRET_KEY_FALLBACKS = [OLD]
    assert client.get(inbox["preferences"]).status_code == 200
    assert client.get(inbox["click"]).status_code == 302
    assert Click.objects.count() == 1
    assert "You are unsubscribed" in post(inbox["unsubscribe"]).text
    assert status_of(reader) == "unsubscribed"


def test_the_old_keys_come_from_the_environment(reader, inbox):
    read = (
        "from mail import tokens; "
        f"print(tokens.read_token('unsubscribe', {inbox['unsubscribe'].split('/')[2]!r})['s'], "
        f"tokens.read_link_token({inbox['click'].split('/')[2]!r}))"
    )
    fallbacks = f"older-key-{'z' * 40}, {OLD}"
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        read,
        DEBUG="1",
        SECRET_KEY=NEW,
        SECRET_KEY_FALLBACKS=fallbacks,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(reader.pk), str(inbox["link id"])]
