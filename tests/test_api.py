"""The REST API, /api/v1/: tokens and scopes, problem documents, subscribers
through the one writer of their status, issues, the link inbox, idempotency
keys and the per-token rate limit; `manage.py api_token`."""

import io
import json

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from api import tokens
from api.models import ApiToken
from newsletter.models import InboxLink, Issue
from subscribers import reader_data, subscriptions
from subscribers.models import Subscriber, Subscription, Suppression
from tests.builders import make_issue, make_newsletter
from tests.helpers import sent_to
from tests.page_site import opengraph_page

pytestmark = pytest.mark.django_db
ALL = ["read", "subscribers", "authoring"]


def token(*scopes: str, user: User | None = None) -> str:
    user = user or User.objects.create_superuser(f"api{User.objects.count()}", password="x")
    return tokens.token_create(user=user, scopes=list(scopes or ALL))[1]


class Api:
    """The test client, speaking JSON with a bearer token, running what each
    request leaves for after its commit (its emails, its fetches)."""

    def __init__(self, client, capture, secret: str):
        self.client, self.capture, self.secret = client, capture, secret

    def __call__(self, method: str, path: str, body=None, **headers):
        extra = {"HTTP_AUTHORIZATION": f"Bearer {self.secret}"} if self.secret else {}
        extra |= {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        data = json.dumps(body) if body is not None else None
        with self.capture(execute=True):
            return getattr(self.client, method)(
                f"/api/v1/{path}", data, content_type="application/json", **extra
            )


@pytest.fixture
def api(client, django_capture_on_commit_callbacks):
    return Api(client, django_capture_on_commit_callbacks, token())


@pytest.fixture
def newsletter():
    return make_newsletter()


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    document = response.json()
    assert {"type", "title", "status", "detail"} <= set(document)
    assert document["status"] == status
    return document


# -- tokens and scopes ---------------------------------------------------------------


def test_it_answers_401_without_a_token_or_with_a_revoked_one(client, newsletter):
    assert problem(client.get("/api/v1/newsletters"), 401)
    user = User.objects.create_superuser("ed", password="x")
    made, secret = tokens.token_create(user=user, scopes=["read"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert client.get("/api/v1/newsletters", **auth).status_code == 200
    tokens.token_revoke(token=made)
    assert problem(client.get("/api/v1/newsletters", **auth), 401)


def test_an_admin_session_is_not_a_token(client, newsletter):
    """The API skips the CSRF check because no cookie authorises it."""
    client.force_login(User.objects.create_superuser("ed", password="x"))
    problem(client.get("/api/v1/newsletters"), 401)
    body = {"email": "a@example.org", "newsletters": [newsletter.slug]}
    problem(client.post("/api/v1/subscribers", body, content_type="application/json"), 401)
    assert not Subscriber.objects.exists()


def test_a_token_without_the_scope_gets_403(client, django_capture_on_commit_callbacks):
    reader = Api(client, django_capture_on_commit_callbacks, token("read"))
    make_newsletter()
    assert reader("get", "newsletters").status_code == 200
    assert problem(reader("get", "subscribers"), 403)["detail"].startswith("This token")
    body = {"email": "x@example.org", "newsletters": ["ml-monthly"]}
    problem(reader("post", "subscribers", body), 403)
    problem(reader("post", "inbox", {"newsletter": "ml-monthly", "url": "https://a.org/"}), 403)
    assert not Subscriber.objects.exists() and not InboxLink.objects.exists()


def test_a_scope_needs_the_users_permissions_too(client, django_capture_on_commit_callbacks):
    clerk = User.objects.create_user("clerk", password="x", is_staff=True)
    api = Api(client, django_capture_on_commit_callbacks, token("subscribers", user=clerk))
    problem(api("get", "subscribers"), 403)


def test_the_token_is_kept_only_as_a_digest():
    user = User.objects.create_superuser("ed", password="x")
    made, secret = tokens.token_create(user=user, scopes=["read"])
    stored = ApiToken.objects.get()
    assert secret not in json.dumps(list(ApiToken.objects.values_list()), default=str)
    assert stored.digest == tokens.digest(secret) and secret.startswith(stored.prefix)


def test_the_command_prints_a_token_once_and_revokes_it():
    User.objects.create_superuser("ed", password="x")
    out = io.StringIO()
    call_command("api_token", "ed", "--scope", "subscribers", "--scope", "read", stdout=out)
    secret = out.getvalue().strip()
    assert tokens.token_for(secret).scopes == ["read", "subscribers"]
    call_command("api_token", "ed", "--revoke", secret[:10], stdout=io.StringIO())
    assert tokens.token_for(secret) is None


def test_the_rate_limit_answers_429_with_retry_after(api, settings, newsletter):
    settings.API_RATE_PER_MINUTE = 3
    assert [api("get", "newsletters").status_code for _ in range(3)] == [200] * 3
    refused = api("get", "newsletters")
    assert problem(refused, 429) and refused["Retry-After"] == "60"


# -- subscribers ---------------------------------------------------------------------


def test_creating_a_subscriber_sends_the_confirmation_email(api, newsletter):
    answer = api(
        "post", "subscribers", {"email": "Ann@Example.org", "newsletters": [newsletter.slug]}
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["subscriptions"][0]["status"] == "pending"
    [message] = sent_to("ann@example.org")
    assert "confirm" in message.subject.lower()
    assert Subscriber.objects.get().consent_source == "api"


def test_a_confirmed_subscriber_needs_a_consent_reason(api, newsletter):
    body = {"email": "ann@example.org", "newsletters": [newsletter.slug], "confirmed": True}
    assert problem(api("post", "subscribers", body), 422)["type"].endswith(
        "consent-reason-required"
    )
    assert not Subscriber.objects.exists()
    body["consent_reason"] = "Signed up at the conference stand, 3 May"
    answer = api("post", "subscribers", body)
    assert answer.json()["subscriptions"][0]["status"] == "confirmed"
    assert "conference stand" in Subscriber.objects.get().consent_note
    assert not [m for m in sent_to("ann@example.org") if "confirm" in m.subject.lower()]


@pytest.mark.parametrize("reason", [Suppression.BOUNCED, Suppression.ERASED])
def test_it_never_subscribes_an_address_suppressed_here(api, newsletter, reason):
    subscriptions.suppress("ann@example.org", reason=reason)
    body = {
        "email": "ann@example.org",
        "newsletters": [newsletter.slug],
        "confirmed": True,
        "consent_reason": "said so",
    }
    assert problem(api("post", "subscribers", body), 409)["type"].endswith("suppressed")
    assert not Subscription.objects.exists()


def test_bad_input_is_a_422_problem_and_changes_nothing(api, newsletter):
    for body in (
        {"email": "not an address", "newsletters": [newsletter.slug]},
        {"email": "a@example.org", "newsletters": ["no-such-one"]},
        {"email": "a@example.org", "newsletters": [newsletter.slug], "name": "A\nBcc: b@x.org"},
        {"email": "a\x00@example.org", "newsletters": [newsletter.slug]},
        {"email": 5},
    ):
        problem(api("post", "subscribers", body), 422)
    assert not Subscriber.objects.exists() and not sent_to("a@example.org")


def test_it_lists_subscribers_by_filter_a_page_at_a_time(api, newsletter):
    other = make_newsletter("other")
    for n in range(5):
        reader = Subscriber.objects.create(email=f"r{n}@example.org")
        Subscription.objects.create(subscriber=reader, newsletter=newsletter, status="confirmed")
    Subscription.objects.create(subscriber=reader, newsletter=other, status="pending")
    seen, cursor = [], ""
    while True:
        answer = api("get", f"subscribers?newsletter=ml-monthly&status=confirmed&limit=2{cursor}")
        seen += [item["email"] for item in answer.json()["items"]]
        if not answer.json()["next_cursor"]:
            break
        cursor = f"&cursor={answer.json()['next_cursor']}"
    assert seen == [f"r{n}@example.org" for n in range(5)]
    pending = api("get", "subscribers?newsletter=other&status=pending").json()["items"]
    assert [item["email"] for item in pending] == ["r4@example.org"]
    assert problem(api("get", "subscribers?cursor=nonsense"), 422)


def test_it_changes_name_and_newsletters_and_unsubscribes(api, newsletter):
    other = make_newsletter("other")
    reader = Subscriber.objects.create(email="ann@example.org")
    Subscription.objects.create(subscriber=reader, newsletter=newsletter, status="confirmed")
    answer = api("patch", f"subscribers/{reader.pk}", {"name": "Ann", "newsletters": ["other"]})
    statuses = {s["newsletter"]: s["status"] for s in answer.json()["subscriptions"]}
    assert statuses == {"ml-monthly": "unsubscribed", "other": "pending"}
    assert answer.json()["name"] == "Ann" and sent_to("ann@example.org")  # other's confirmation
    api("post", f"subscribers/{reader.pk}/unsubscribe", {"newsletter": "other"})
    assert Subscription.objects.get(newsletter=other).status == "unsubscribed"


def test_erasing_leaves_only_the_suppression_hash(api, newsletter):
    reader = Subscriber.objects.create(email="ann@example.org")
    Subscription.objects.create(subscriber=reader, newsletter=newsletter, status="confirmed")
    assert api("delete", f"subscribers/{reader.pk}").status_code == 204
    assert not Subscriber.objects.exists()
    assert subscriptions.is_suppressed("ann@example.org", reasons=(Suppression.ERASED,))
    assert not sent_to("ann@example.org")  # no emailed confirmation asked of the reader
    problem(api("get", f"subscribers/{reader.pk}"), 404)


# -- idempotency ---------------------------------------------------------------------


def test_the_same_key_and_body_get_the_first_answer(api, newsletter):
    body = {"email": "ann@example.org", "newsletters": [newsletter.slug]}
    first = api("post", "subscribers", body, **{"Idempotency-Key": "k1"})
    again = api("post", "subscribers", body, **{"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert len(sent_to("ann@example.org")) == 1
    other = api("post", "subscribers", {**body, "name": "Ann"}, **{"Idempotency-Key": "k1"})
    assert problem(other, 422)["type"].endswith("idempotency-key-reused")


# -- issues and the inbox ------------------------------------------------------------


def test_it_reads_an_issue_with_its_sections_and_links(api, newsletter):
    issue = make_issue(newsletter)
    answer = api("get", f"issues/{issue.pk}").json()
    assert answer["subject"] == issue.subject
    [section] = answer["sections"]
    assert section["links"][0]["url"] == issue.sections.get().links.get().url
    listed = api("get", "issues?newsletter=ml-monthly").json()["items"]
    assert [item["id"] for item in listed] == [issue.pk]


def test_it_drafts_an_issue(api, newsletter, pages):
    url = pages.add("/post", opengraph_page("A post", "Some blog", "What it says."))
    body = {
        "newsletter": newsletter.slug,
        "subject": "May",
        "sections": [{"title": "Research", "links": [{"url": url, "commentary": "Read it."}]}],
    }
    answer = api("post", "issues", body)
    assert answer.status_code == 201, answer.content
    issue = Issue.objects.get()
    assert (issue.status, issue.number, issue.subject) == ("draft", 1, "May")
    assert issue.sections.get().links.get().title == "A post"  # filled in from its page
    problem(
        api(
            "post",
            "issues",
            {**body, "sections": [{"title": "x", "links": [{"url": "javascript:alert(1)"}]}]},
        ),
        422,
    )
    assert Issue.objects.count() == 1


def test_a_link_added_to_the_inbox_is_filled_from_its_page(api, newsletter, pages):
    url = pages.add("/post", opengraph_page("A post", "Some blog", "What it says."))
    answer = api("post", "inbox", {"newsletter": newsletter.slug, "url": url, "note": "for May"})
    assert answer.status_code == 201, answer.content
    entry = InboxLink.objects.get()
    assert (entry.title, entry.source, entry.note) == ("A post", "Some blog", "for May")
    assert api("get", f"inbox/{entry.pk}").json()["title"] == "A post"
    again = api("post", "inbox", {"newsletter": newsletter.slug, "url": url})
    assert again.status_code == 200 and InboxLink.objects.count() == 1


def test_the_schema_is_served(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/subscribers" in schema["paths"]


def test_reader_data_names_the_consent_note(newsletter):
    reader = Subscriber.objects.create(email="ann@example.org", consent_note="at the stand")
    assert reader_data.export(reader)["consent"]["note"] == "at the stand"


def test_the_admin_shows_a_new_token_once_and_keeps_its_digest(client):
    editor = User.objects.create_superuser("ed", password="x")
    client.force_login(editor)
    made = client.post(
        "/admin/api/apitoken/add/",
        {"user": editor.pk, "name": "Zapier", "scopes": ["read", "authoring"]},
        follow=True,
    )
    [shown] = [str(m) for m in made.context["messages"] if "shown this once" in str(m)]
    secret = shown[shown.index("lp_") :].split()[0]
    assert tokens.token_for(secret).scopes == ["authoring", "read"]
    page = client.get(f"/admin/api/apitoken/{ApiToken.objects.get().pk}/change/")
    assert secret not in page.content.decode()
