"""Reader feedback: /f/<recipient key>/<answer>/ (GET shows a button, POST records)."""

import re

import pytest

from mail.tokens import recipient_key
from newsletter.engagement.feedback import answer_links
from newsletter.models import Feedback
from tests.builders import make_delivery, make_draft, make_newsletter, make_reader, make_sent_issue
from tests.helpers import send_issue


@pytest.fixture
def delivery(db):
    issue = make_sent_issue(make_newsletter(feedback_ask="Was this issue worth your time?"))
    return make_delivery(issue, make_reader(issue.newsletter, "alice@example.com"))


def answer_path(delivery, answer: str) -> str:
    return f"/f/{recipient_key(delivery.pk)}/{answer}/"


def test_a_get_shows_one_button_and_records_nothing(client, delivery):
    response = client.get(answer_path(delivery, "loved"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Was this issue worth your time?" in page
    assert page.count("<button") == 1
    assert "Loved it" in page
    assert Feedback.objects.count() == 0


def test_a_post_records_the_answer(client, delivery):
    response = client.post(answer_path(delivery, "loved"))
    assert response.status_code == 200
    assert "Thank you" in response.content.decode()
    feedback = Feedback.objects.get()
    assert feedback.delivery == delivery
    assert feedback.answer == Feedback.Answer.LOVED


def test_the_latest_answer_wins_and_counts_once(client, delivery):
    client.post(answer_path(delivery, "loved"))
    client.post(answer_path(delivery, "no"))
    client.post(answer_path(delivery, "no"))
    assert Feedback.objects.count() == 1
    assert Feedback.objects.get().answer == Feedback.Answer.NOT_FOR_ME


def test_each_reader_has_their_own_answer(client, delivery):
    bob = make_delivery(delivery.issue, make_reader(delivery.issue.newsletter, "bob@example.com"))
    client.post(answer_path(delivery, "loved"))
    client.post(answer_path(bob, "ok"))
    answers = dict(Feedback.objects.values_list("delivery", "answer"))
    assert answers == {delivery.pk: "loved", bob.pk: "ok"}


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_altered_key_gets_a_clear_404_and_records_nothing(client, delivery, method):
    key = recipient_key(delivery.pk)
    response = getattr(client, method)(f"/f/{key[:-3]}abc/loved/")
    assert response.status_code == 404
    assert "This link does not work" in response.content.decode()
    assert Feedback.objects.count() == 0


def test_an_answer_from_a_test_email_without_a_key_gets_the_bad_link_page(client, db):
    response = client.post("/f//loved/")
    assert response.status_code == 404
    assert "This link does not work" in response.content.decode()


def test_an_unknown_answer_gets_404(client, delivery):
    response = client.post(answer_path(delivery, "meh"))
    assert response.status_code == 404
    assert Feedback.objects.count() == 0


def test_answer_links_offer_three_answers_with_the_reader_placeholder(settings):
    links = answer_links()
    assert [a["answer"] for a in links] == ["loved", "ok", "no"]
    for a in links:
        assert a["url"] == f"{settings.SITE_URL}/f/[[recipient_key]]/{a['answer']}/"


def test_a_sent_issue_offers_each_reader_answers_of_their_own(client, mailgun, db):
    newsletter = make_newsletter()
    for email in ("alice@example.com", "bob@example.com"):
        make_reader(newsletter, email)
    issue = make_draft(newsletter, 1)
    send_issue(issue)

    [message] = mailgun.messages_to("bob@example.com")
    paths = re.findall(r"https?://[^/\s\"]+(/f/[^/\s\"]+/(?:loved|ok|no)/)", message.html)
    assert len(paths) == 3
    assert len(re.findall(r"/f/[^/\s]+/(?:loved|ok|no)/", message.text)) == 3
    client.post(paths[-1])
    feedback = Feedback.objects.get()
    assert feedback.delivery.subscriber.email == "bob@example.com"
    assert feedback.answer == "no"
