"""robots.txt: the archive open to crawlers, every page behind a reader's link
and every staff or machine endpoint closed (read from the URL conf, so a new
route cannot be left out), and the sitemap's address."""

import re
from urllib.robotparser import RobotFileParser

import pytest

from tests.test_every_endpoint import concrete
from tests.test_hostile_input import routes

pytestmark = pytest.mark.django_db

# A route's parameter that names a reader, a delivery or a tracked link.
PERSONAL = re.compile(r"<(?:\w+:)?(?:token|link_token)>|\(\?P<recipient_key>")
STAFF_AND_MACHINES = ("admin/", "_nested_admin/", "outbox/", "api/", "anymail/", "healthz")


@pytest.fixture
def robots(client, settings):
    settings.SITE_URL = "https://news.example.org"
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    parser = RobotFileParser()
    parser.parse(response.text.splitlines())
    return parser


def can_crawl(robots, path: str) -> bool:
    return robots.can_fetch("AnyBot", "https://news.example.org" + path)


def test_it_points_crawlers_to_the_sitemap(robots):
    assert robots.site_maps() == ["https://news.example.org/sitemap.xml"]


def test_the_archive_and_signup_pages_are_open(robots):
    for path in (
        "/archive/",
        "/archive/field-notes/",
        "/archive/field-notes/?page=2",
        "/archive/field-notes/1-hello/",
        "/archive/field-notes/feed/",
        "/subscribe/",
        "/subscribe/field-notes/",
        "/sitemap.xml",
    ):
        assert can_crawl(robots, path), path


def test_every_page_behind_a_readers_link_is_closed(robots):
    personal = [route for route, _ in routes() if PERSONAL.search(route)]
    assert len(personal) >= 9  # confirm, resend, unsubscribe, one-click, preferences, …
    for route in personal:
        path = concrete(route, ["a-token", "loved"])
        assert not can_crawl(robots, path), route


def test_staff_pages_and_machine_endpoints_are_closed(robots):
    staff = [route for route, _ in routes() if route.startswith(STAFF_AND_MACHINES)]
    assert any(route.startswith("anymail/") for route in staff)
    for route in staff:
        path = concrete(route, ["x"] * 5)
        assert not can_crawl(robots, path), route
