import pytest
from django.contrib.auth.models import User


@pytest.fixture(autouse=True)
def throttling(settings):
    settings.AXES_ENABLED = True


@pytest.fixture
def editor(db):
    return User.objects.create_user("editor", password="right-horse-battery", is_staff=True)


def attempt(client, password: str):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": "editor", "password": password},
        REMOTE_ADDR="203.0.113.9",
    )


def test_it_logs_an_editor_in(client, editor):
    response = attempt(client, "right-horse-battery")
    assert response.status_code == 302
    assert response.url == "/admin/"


def test_it_locks_the_login_after_five_failures_even_with_the_right_password(client, editor):
    for _ in range(4):
        assert attempt(client, "wrong").status_code == 200
    assert attempt(client, "wrong").status_code == 429
    response = attempt(client, "right-horse-battery")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_it_sends_a_strict_content_security_policy_on_public_pages(client, db):
    response = client.get("/healthz")
    assert "script-src 'none'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def through_proxy(client, password: str, client_address: str, claimed: str = ""):
    """A login through our proxy (10.0.0.2), which appends the address it saw."""
    forwarded = f"{claimed}, {client_address}" if claimed else client_address
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": "editor", "password": password},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR=forwarded,
    )


def test_behind_a_proxy_a_stranger_cannot_lock_the_editor_out(client, editor, settings):
    settings.TRUSTED_PROXIES = 1
    for _ in range(5):
        through_proxy(client, "wrong", "198.51.100.66")
    assert through_proxy(client, "wrong", "198.51.100.66").status_code == 429

    response = through_proxy(client, "right-horse-battery", "203.0.113.9")
    assert response.status_code == 302


def test_behind_a_proxy_a_claimed_address_does_not_escape_the_lock(client, editor, settings):
    settings.TRUSTED_PROXIES = 1
    for n in range(6):  # a new made-up address each time, before the one the proxy saw
        response = through_proxy(client, "wrong", "198.51.100.66", claimed=f"192.0.2.{n}")
    assert response.status_code == 429
