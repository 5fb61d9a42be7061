import pytest
from django.core.management import call_command

from newsletter.models import Delivery, Issue, Link, Newsletter, Section
from newsletter.rendering import render_issue
from subscribers.models import Subscriber, Subscription

pytestmark = pytest.mark.django_db

MODELS = (Newsletter, Issue, Section, Link, Subscriber, Subscription, Delivery)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def test_it_is_idempotent(capsys):
    call_command("seed_demo")
    first = counts()
    call_command("seed_demo")
    assert counts() == first
    assert first["Subscriber"] == 5
    assert first["Delivery"] == 5  # issue #1 went to the five readers
    assert "2 issues, 5 readers" in capsys.readouterr().out


def test_it_seeds_a_sent_issue_in_the_example_shape(client):
    call_command("seed_demo")
    newsletter = Newsletter.objects.get(slug="field-notes")
    assert newsletter.time_zone == "Europe/London"
    assert newsletter.postal_address
    assert newsletter.siblings.count() == 1
    issue = newsletter.issues.get(number=1)
    assert issue.status == Issue.Status.SENT and issue.sent_at
    assert issue.intro and issue.sign_off
    sections = list(issue.sections.all())
    links = Link.objects.filter(section__issue=issue)
    assert len(sections) >= 4
    assert links.count() >= 15
    assert all(link.commentary and link.source for link in links)
    assert all(link.url.startswith("https://") for link in links)
    rendered = render_issue(issue)
    assert all(link.title in rendered.text for link in links)
    assert client.get(issue.get_absolute_url()).status_code == 200


def test_the_next_issue_is_a_draft_in_progress(client):
    call_command("seed_demo")
    draft = Issue.objects.get(newsletter__slug="field-notes", number=2)
    assert draft.status == Issue.Status.DRAFT
    assert draft.sections.count() == 2
    assert client.get(draft.get_absolute_url()).status_code == 404


def test_its_readers_are_confirmed_with_a_demo_consent_record():
    call_command("seed_demo")
    subscriptions = Subscription.objects.filter(newsletter__slug="field-notes")
    assert subscriptions.count() == 5
    assert {s.status for s in subscriptions} == {Subscription.Status.CONFIRMED}
    assert {s.subscriber.consent_source for s in subscriptions} == {"demo"}


def test_it_leaves_an_editors_changes_alone():
    call_command("seed_demo")
    Section.objects.filter(issue__number=2).first().delete()
    Issue.objects.filter(number=2).update(subject="My own subject")
    call_command("seed_demo")
    draft = Issue.objects.get(number=2)
    assert draft.subject == "My own subject"
    assert draft.sections.count() == 1


@pytest.mark.django_db
def test_it_dates_the_draft_on_the_newsletters_next_cadence_day():
    from zoneinfo import ZoneInfo

    call_command("seed_demo", verbosity=0)
    draft = Issue.objects.get(status=Issue.Status.DRAFT)
    local = draft.send_at.astimezone(ZoneInfo(draft.newsletter.time_zone))
    assert local.weekday() == draft.newsletter.cadence_weekday
    assert local.day <= 7  # the first such weekday of its month
    assert (local.hour, local.minute) == (9, 0)
