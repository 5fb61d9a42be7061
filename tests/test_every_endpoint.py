"""Every public endpoint, found in the URLconf (so a new one is covered the day
it is added), answering any request without a 5xx: odd methods, bodies in
charsets Django cannot read, JSON nested thousands deep, bodies over
DATA_UPLOAD_MAX_MEMORY_SIZE, bad percent-encoding; with and without the CSRF
cookie and the webhooks' credentials, with real and forged tokens.

Requests go to the WSGI application gunicorn serves (config.wsgi), not to the
test client's handler: some requests fail while Django builds them, before any
middleware. A fixed example budget keeps the run to seconds. The deeper
per-endpoint properties (nothing changes, no header injected) are
tests/test_hostile_input.py.
"""

import io
import json
import os
import re
from urllib.parse import quote, unquote_to_bytes

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.wsgi import application
from mail import tokens
from tests.builders import make_delivery, make_link, make_newsletter, make_reader, make_sent_issue
from tests.esp_events import AUTH, webhook_settings  # noqa: F401 (a fixture)
from tests.test_hostile_input import PAYLOADS, routes

pytestmark = pytest.mark.django_db

# ENDPOINT_EXAMPLES=5000 for a deeper run by hand; CI runs the fixed budget.
BUDGET = settings(
    max_examples=int(os.getenv("ENDPOINT_EXAMPLES", "250")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
UPLOAD_LIMIT = 4096  # the test's DATA_UPLOAD_MAX_MEMORY_SIZE: small, so "over it" is cheap
PRIVATE = ("admin/", "_nested_admin/")
CSRF = "a" * 32

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND", "BREW"]
CHARSETS = ["utf-16", "utf-32", "cp037", "utf-7", "no-such-charset", "utf-8", "latin-1", ""]
TYPES = [
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "multipart/form-data",
    "application/json",
    "text/plain",
    "application/octet-stream",
    "",
]


def deep_json(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def encoded(text: str, charset: str) -> bytes:
    try:
        return text.encode(charset or "utf-8", errors="replace")
    except LookupError:
        return text.encode("utf-8")


bodies = st.one_of(
    st.just(b""),
    st.binary(max_size=2000),
    st.sampled_from([deep_json(5000, "list"), deep_json(5000, "dict"), deep_json(200, "list")]),
    st.sampled_from([b"a=" + b"A" * (UPLOAD_LIMIT + 10), b'{"a":"' + b"A" * UPLOAD_LIMIT + b'"}']),
    st.builds(
        encoded,
        st.sampled_from(
            [
                "email=reader@example.org&name=Reader&List-Unsubscribe=One-Click",
                "List-Unsubscribe=One-Click",
                "action=resubscribe",
                '--xyz\r\nContent-Disposition: form-data; name="email"\r\n\r\nx@y.z\r\n--xyz--',
                json.dumps({"signature": {"timestamp": "1", "token": "t", "signature": "s"}}),
                *PAYLOADS,
            ]
        ),
        st.sampled_from(CHARSETS),
    ),
)
content_types = st.builds(
    lambda kind, charset: f"{kind}; charset={charset}" if kind and charset else kind,
    st.sampled_from(TYPES),
    st.sampled_from(CHARSETS),
)
queries = st.sampled_from(
    [
        "",
        "?%",
        "?a=%ff%fe",
        "?next=javascript:alert(1)",
        "?" + "a=1&" * 2000,
        # The archive's, the feed's and the sitemap's pages: past the end, not a number.
        "?page=2",
        "?page=0",
        "?page=-1",
        "?page=%ff",
        "?page=" + "9" * 5000,
        "?p=2",
        "?p=x",
        # The archive's search and most-clicked pages: FTS syntax, bad filters, far pages.
        "?q=%22NEAR(paper*%20AND%20%22&year=abc&source=%00&page=99999999999999999999",
        "?q=" + "paper%20" * 300 + "&year=99999999999999999999&page=-1",
        "?q=paper&year=2026&source=example.org&page=2",
    ]
)


def serve(method: str, path: str, query: str, body: bytes, content_type: str, **headers) -> int:
    """One request through the production WSGI application; its status code."""
    environ = {
        "REQUEST_METHOD": method,
        # As a server passes it on (PEP 3333): percent-decoded, bytes as latin-1.
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query.removeprefix("?"),
        "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "testserver",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **headers,
    }
    status = []
    # As the test client does: the test's transaction must outlive the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = application(environ, lambda line, _headers, *_: status.append(line))
        b"".join(response)
        if hasattr(response, "close"):
            response.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return int(status[0].split()[0])


@pytest.fixture
def world(db, settings, webhook_settings):  # noqa: F811
    settings.RATELIMIT_ENABLED = False
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_LIMIT
    newsletter = make_newsletter()
    alice = make_reader(newsletter, "alice@example.com")
    issue = make_sent_issue(newsletter)
    link = make_link(issue, "https://example.org/paper")
    delivery = make_delivery(issue, alice)
    good = [
        tokens.confirm_token(alice),
        tokens.unsubscribe_token(alice),
        tokens.preferences_token(alice.subscriber),
        tokens.link_token(link),
        tokens.recipient_key(delivery.pk),
        newsletter.slug,
        issue.slug,
        str(link.pk),
        "loved",
    ]
    return {"good": good}


def public_routes() -> list[str]:
    return sorted({route for route, _ in routes() if not route.startswith(PRIVATE)})


PARAM = re.compile(r"<(?:\w+:)?\w+>|\(\?P<\w+>[^)]*\)")


OPTIONAL_GROUP = re.compile(r"\((?!\?P)[^)]*\)\?")


def concrete(route: str, values: list[str]) -> str:
    """The route with each parameter replaced by the next value, as one path
    segment (a regex route also loses its anchors and optional groups)."""
    filled = iter(values)
    path = PARAM.sub(lambda _: quote(next(filled), safe="") or "x", route)
    return "/" + OPTIONAL_GROUP.sub("", path).replace("^", "").replace("$", "")


def test_the_run_reaches_every_kind_of_public_endpoint():
    found = public_routes()
    for expected in (
        "subscribe/<slug:newsletter_slug>/",
        "unsubscribe/<str:token>/one-click/",
        "sitemap.xml",
        "robots.txt",
        "archive/<slug:newsletter_slug>/search/",
        "archive/<slug:newsletter_slug>/links/<int:link_id>/",
    ):
        assert expected in found
    assert any(route.startswith("anymail/") for route in found)
    assert any(route.startswith("l/") for route in found)
    assert not any(route.startswith(PRIVATE) for route in found)


@BUDGET
@given(
    data=st.data(),
    method=st.sampled_from(METHODS),
    body=bodies,
    content_type=content_types,
    query=queries,
    csrf=st.booleans(),
    auth=st.booleans(),
)
def test_no_request_to_a_public_endpoint_gets_a_5xx(
    world, data, method, body, content_type, query, csrf, auth
):
    route = data.draw(st.sampled_from(public_routes()), label="route")
    values = [
        data.draw(st.one_of(st.sampled_from(world["good"]), st.sampled_from(PAYLOADS)))
        for _ in PARAM.findall(route)
    ]
    path = concrete(route, values)
    headers = dict(AUTH) if auth else {}
    if csrf:
        headers |= {"HTTP_COOKIE": f"csrftoken={CSRF}", "HTTP_X_CSRFTOKEN": CSRF}
    status = serve(method, path, query, body, content_type, **headers)
    assert status < 500, (method, path, content_type, body[:80])


def test_a_query_over_the_field_limit_with_a_charset_is_no_server_error(world):
    # Django reads the query while it builds such a request, before any middleware:
    # the error escaped to the server, which answered 500.
    query = "?" + "a=1&" * 1500
    for content_type in ("text/plain; charset=utf-8", "application/json; charset=latin-1"):
        # The archive reads its ?page=: so many fields make a bad request, said as one.
        assert serve("GET", "/archive/", query, b"", content_type) == 400
        assert serve("GET", "/subscribe/ml-monthly/", query, b"", content_type) < 500


@pytest.mark.parametrize(
    "path, content_type, expected",
    [
        # A form body Django cannot read, posted where no page is: its 404 page
        # ran the CSRF check, which read the body, failed, and ended in a 500.
        ("/archive/no:such:newsletter/", "multipart/form-data", 404),
        ("/", "application/x-www-form-urlencoded; charset=latin-1", 400),
        ("/subscribe/ml-monthly/", "multipart/form-data; charset=utf-8", 400),
    ],
)
def test_a_form_body_that_cannot_be_read_gets_a_4xx_with_a_csrf_cookie(
    world, path, content_type, expected
):
    cookie = {"HTTP_COOKIE": f"csrftoken={CSRF}"}
    assert serve("POST", path, "", b"email=a@b.c", content_type, **cookie) == expected
