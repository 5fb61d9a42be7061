"""The link check and `manage.py check_issue`: every URL of an issue asked of
its server through config.outbound (public addresses only), each finding with
its place; exit 1 on a blocker (--strict: a warning too), 2 for no such issue."""

import socket
import threading
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from urllib.parse import unquote

import pytest
from django.core.management import CommandError, call_command
from freezegun import freeze_time

from config import outbound
from newsletter.curation import link_checks
from newsletter.curation.preflight import WARNING, preflight
from newsletter.models import Issue, Link
from tests.builders import drafting, make_issue, make_link, make_newsletter, make_sent_issue

pytestmark = pytest.mark.django_db


class Site(BaseHTTPRequestHandler):
    """/missing is a 404, /moved redirects to /, /to?u=URL to URL, /no-head refuses
    HEAD; the rest are pages."""

    def do_HEAD(self):
        self.answer(body=False)

    def do_GET(self):
        self.answer(body=True)

    def answer(self, body: bool):
        self.server.seen.append((self.command, self.path))
        if self.path == "/moved" or self.path.startswith("/to?u="):
            self.send_response(302)
            target = "/" if self.path == "/moved" else unquote(self.path.removeprefix("/to?u="))
            self.send_header("Location", target)
            self.end_headers()
            return
        status = 404 if self.path == "/missing" else 200
        if self.path == "/no-head" and self.command == "HEAD":
            status = 405
        page = b"<title>A page</title>"
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        if body:
            self.wfile.write(page)

    def log_message(self, *args):
        pass


@contextmanager
def serving():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    server.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def site():
    with serving() as server:
        yield server


@pytest.fixture
def closed_port():
    """A port on this machine nobody listens on (bound, then let go)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def allowed(settings, site, closed_port):
    settings.FETCH_ALLOW_LOOPBACK = [site.server_address[1], closed_port]
    return f"http://127.0.0.1:{site.server_address[1]}"


def check_issue(*args) -> str:
    out = StringIO()
    call_command("check_issue", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def issue(allowed, closed_port):
    """Acceptance 3: a closed port, a 404, a redirect, and a link of an earlier issue
    with ?utm_source=x added; links with commentary, a preheader, a test sent."""
    newsletter = make_newsletter()
    earlier = make_sent_issue(newsletter, number=5, subject="Spring finds")
    make_link(earlier, f"{allowed}/feature")
    issue = make_issue(newsletter, number=6, preheader="Four links")
    make_link(issue, f"http://127.0.0.1:{closed_port}/", section="News")  # position 0: first
    make_link(issue, f"{allowed}/missing")
    make_link(issue, f"{allowed}/moved")
    make_link(issue, f"{allowed}/feature?utm_source=x")
    with drafting(issue):
        Link.objects.filter(section__issue=issue).update(commentary="Worth it.")
        Link.objects.filter(url="https://example.org/paper").update(url=f"{allowed}/")
    Issue.objects.filter(pk=issue.pk).update(test_digest=issue.content_digest())
    return issue


def test_check_issue_reports_each_link_problem_with_its_place(issue, allowed, closed_port):
    out = check_issue(str(issue.pk))

    assert (
        f"warning  Section 1 'News' → link 1: http://127.0.0.1:{closed_port}/ looks dead: "
        "the connection was refused." in out
    )
    assert (
        f"warning  Section 2 'Research' → link 2: {allowed}/missing looks dead: it answers 404."
        in out
    )
    assert (
        f"warning  Section 2 'Research' → link 3: {allowed}/moved redirects to {allowed}/." in out
    )
    assert (
        f"warning  Section 2 'Research' → link 4: {allowed}/feature?utm_source=x "
        "was already featured in #5 “Spring finds”" in out
    )
    assert out.count("warning  ") == 4, out
    assert "0 blockers, 4 warnings: ready to send." in out


def test_check_issue_exits_1_on_a_warning_with_strict(issue):
    with pytest.raises(CommandError) as failed:
        check_issue(str(issue.pk), "--strict")
    assert failed.value.returncode == 1
    assert "0 blockers, 4 warnings" in str(failed.value)


def test_check_issue_exits_1_on_a_blocker(allowed):
    empty = Issue.objects.create(newsletter=make_newsletter(), number=1, subject="Nothing yet")
    with pytest.raises(CommandError) as failed:
        check_issue(str(empty.pk))
    assert failed.value.returncode == 1


@pytest.mark.parametrize("ref", ["999", "nope", "ml-monthly/99", ""])
def test_check_issue_with_no_such_issue_says_so_and_exits_2(ref):
    with pytest.raises(CommandError) as failed:
        check_issue(ref)
    assert failed.value.returncode == 2


def test_a_server_that_refuses_head_is_asked_with_get(site, allowed):
    assert link_checks.check_url(f"{allowed}/no-head")["outcome"] == "ok"
    assert site.seen == [("HEAD", "/no-head"), ("GET", "/no-head")]


def test_an_answer_is_kept_an_hour(site, allowed):
    url = f"{allowed}/"
    link_checks.check_urls([url])
    link_checks.check_urls([url])
    assert len(site.seen) == 1
    with freeze_time(link_checks.fresh_results([url])[url].checked_at + timedelta(minutes=61)):
        link_checks.check_urls([url])
    assert len(site.seen) == 2


# -- Acceptance 4: with the loopback allowance off, nothing but public addresses ----


@pytest.fixture
def victim():
    """A server on this machine that must never be reached."""
    with serving() as server:
        yield server


def not_public_findings(issue) -> list[str]:
    report = preflight(issue, run_link_checks=True)
    return [str(f) for f in report.findings if f.level == WARNING and "not checked" in str(f)]


def test_addresses_that_are_not_public_are_reported_as_such_and_never_reached(
    settings, monkeypatch, victim
):
    settings.FETCH_ALLOW_LOOPBACK = False
    real_resolve = outbound.resolve
    monkeypatch.setattr(
        outbound,
        "resolve",
        lambda host, port: ["10.0.0.1"] if host == "intranet.example" else real_resolve(host, port),
    )
    issue = make_issue(make_newsletter(), number=1)
    urls = [
        f"http://127.0.0.1:{victim.server_address[1]}/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://intranet.example/",
    ]
    for url in urls:
        make_link(issue, url)

    found = not_public_findings(issue)
    assert len(found) == 4, found
    for url, finding in zip(urls, found, strict=True):
        assert url in finding and "not a public address" in finding and "dead" not in finding
    assert victim.seen == []


def test_a_redirect_from_an_allowed_page_to_loopback_is_not_followed(settings, site, victim):
    settings.FETCH_ALLOW_LOOPBACK = [site.server_address[1]]
    issue = make_issue(make_newsletter(), number=1)
    target = f"http://127.0.0.1:{victim.server_address[1]}/"
    make_link(issue, f"http://127.0.0.1:{site.server_address[1]}/to?u={target}")

    found = not_public_findings(issue)
    assert len(found) == 1 and "loopback" in found[0], found
    assert victim.seen == []
