import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from config import settings as settings_module

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str, program: tuple[str, ...] = ("manage.py",), **env: str):
    """A process started with no environment but PATH and the given variables,
    as a server started without its .env would be."""
    return subprocess.run(
        [sys.executable, *program, *args],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_with_no_environment_at_all_it_refuses_to_start_and_says_why():
    result = manage("check")
    assert result.returncode != 0
    assert "DEBUG is off (production)" in result.stderr
    for missing in ("SECRET_KEY is not set", "ALLOWED_HOSTS is not set", "SITE_URL is not set"):
        assert missing in result.stderr
    assert "DEBUG=1 for development" in result.stderr


def test_gunicorn_stops_with_the_reason_when_started_with_no_environment():
    # As the Dockerfile's CMD starts it: no preloading, so each worker loads the
    # app; a worker that exits would be replaced for ever, one that fails to
    # boot stops the server.
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    result = subprocess.run(
        [gunicorn, "config.wsgi", "--bind", "127.0.0.1:0", "--workers", "2"],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "Worker failed to boot" in result.stderr


def test_development_says_so_and_starts_with_the_development_key():
    assert manage("check", DEBUG="1").returncode == 0


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "news.example.com",
    "SITE_URL": "https://news.example.com",
}


@pytest.mark.parametrize(
    "variables, refusal",
    [
        ({"SECRET_KEY": settings_module.DEVELOPMENT_KEY}, "SECRET_KEY is a published example key"),
        ({"SECRET_KEY": settings_module.DEVELOPMENT_KEY + " "}, "published example key"),
        ({"SECRET_KEY": "change-me-to-50-or-more-random-characters"}, "published example key"),
        ({"SECRET_KEY": "abc"}, "SECRET_KEY is too weak"),
        ({"SECRET_KEY": "a" * 60}, "SECRET_KEY is too weak"),
        ({"SECRET_KEY_FALLBACKS": settings_module.DEVELOPMENT_KEY}, "FALLBACKS holds a published"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS is *"),
    ],
)
def test_production_refuses_keys_and_hosts_that_protect_nothing(variables, refusal):
    result = manage("check", **{**PRODUCTION, **variables})
    assert result.returncode != 0
    assert refusal in result.stderr


def test_production_with_an_esp_refuses_a_plain_http_site_url():
    result = manage(
        "check", **{**PRODUCTION, "SITE_URL": "http://127.0.0.1:8000", "ESP": "mailgun"}
    )
    assert result.returncode != 0
    assert "SITE_URL is http://127.0.0.1:8000: links in emails sent through an ESP" in (
        result.stderr
    )
    sender = {"DEFAULT_FROM_EMAIL": "Letterpress <news@news.example.com>"}
    assert manage("check", **{**PRODUCTION, **sender, "ESP": "mailgun"}).returncode == 0


def test_production_with_an_esp_refuses_a_sender_on_localhost():
    # The default sender of editors' reminders is letterpress@localhost: fine
    # for the outbox, refused by every mailbox provider.
    result = manage("check", **{**PRODUCTION, "ESP": "mailgun"})
    assert result.returncode != 0
    assert "DEFAULT_FROM_EMAIL: the sender Letterpress <letterpress@localhost> has no real" in (
        result.stderr
    )


def test_it_passes_the_deploy_check_with_production_settings():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **PRODUCTION,
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
