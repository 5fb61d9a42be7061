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
