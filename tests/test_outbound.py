"""The server fetches only public addresses (config/outbound.py): what an
attacker would point a link, a link check or a webhook at instead."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import pytest

from config import outbound


class Site(BaseHTTPRequestHandler):
    """A local test site: / is a page, /to?u=URL redirects there, /loop to
    itself, /big is 3 MB."""

    def do_GET(self):
        if self.path.startswith(("/to?u=", "/loop")):
            self.send_response(302)
            target = unquote(self.path.removeprefix("/to?u=")) if "u=" in self.path else "/loop"
            self.send_header("Location", target)
            self.end_headers()
            return
        body = b"x" * (3 * 1024 * 1024) if self.path == "/big" else b"<title>A page</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.seen.append((self.path, self.headers["Host"], self.headers["User-Agent"]))

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append((self.path, self.headers["Host"], body, self.headers["X-Sig"]))
        if self.path.startswith("/to?u="):
            self.send_response(307)
            self.send_header("Location", unquote(self.path.removeprefix("/to?u=")))
        else:
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def only_the_site(settings, site):
    """The tests' allowance: this one local site, no other loopback port."""
    settings.FETCH_ALLOW_LOOPBACK = [site.server_address[1]]
    return f"http://127.0.0.1:{site.server_address[1]}"


def resolving(monkeypatch, answers: dict[str, list[list[str]]]):
    """Replace DNS: each name answers its lists in turn (the last one repeats)."""
    asked = []

    def resolve(host, port):
        asked.append(host)
        queue = answers[host]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    monkeypatch.setattr(outbound, "resolve", resolve)
    return asked


def test_it_fetches_a_page_it_may_with_an_honest_user_agent(site, only_the_site):
    fetched = outbound.fetch(f"{only_the_site}/")
    assert fetched.status == 200 and b"A page" in fetched.body
    assert site.seen[0][2].startswith("Letterpress/")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.0.0.1/",
        "http://[fd00::1]/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
    ],
)
def test_it_refuses_addresses_that_are_not_public(settings, url):
    settings.FETCH_ALLOW_LOOPBACK = False
    with pytest.raises(outbound.Refused):
        outbound.fetch(url)


def test_it_refuses_a_name_that_resolves_to_a_private_address(monkeypatch, settings):
    settings.FETCH_ALLOW_LOOPBACK = False
    resolving(monkeypatch, {"intranet.example.com": [["93.184.215.14", "10.0.0.1"]]})
    with pytest.raises(outbound.Refused, match="10.0.0.1 is not a public address"):
        outbound.fetch("http://intranet.example.com/")


@pytest.mark.parametrize("target", ["http://127.0.0.1:{other}/", "http://[::1]:{other}/"])
def test_a_redirect_from_an_allowed_page_to_loopback_is_refused(site, only_the_site, target):
    other = site.server_address[1] + 1
    hop = target.format(other=other)
    with pytest.raises(outbound.Refused, match="loopback"):
        outbound.fetch(f"{only_the_site}/to?u={hop}")


def test_it_connects_to_the_address_it_checked_not_to_a_second_lookup(
    monkeypatch, site, only_the_site
):
    # DNS rebinding: the name is loopback (allowed here) when checked, private after.
    port = site.server_address[1]
    asked = resolving(monkeypatch, {"rebind.example": [["127.0.0.1"], ["10.0.0.1"]]})
    fetched = outbound.fetch(f"http://rebind.example:{port}/")
    assert fetched.status == 200
    assert asked == ["rebind.example"]  # one lookup, then the connection to its answer
    assert site.seen[-1][1] == f"rebind.example:{port}"  # the name in Host


def test_it_follows_a_few_redirects_and_says_where_they_end(site, only_the_site):
    fetched = outbound.fetch(f"{only_the_site}/to?u=/to?u=/")
    assert fetched.url == f"{only_the_site}/" and fetched.redirected
    with pytest.raises(outbound.Refused, match="more than 5 redirects"):
        outbound.fetch(f"{only_the_site}/loop")


def test_it_stops_reading_past_the_size_cap(site, only_the_site):
    with pytest.raises(outbound.Refused, match="larger than 2 MB"):
        outbound.fetch(f"{only_the_site}/big")


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "javascript:x"])
def test_it_fetches_only_http_and_https(url):
    with pytest.raises(outbound.Refused, match="only http and https"):
        outbound.fetch(url)


# -- POST (a webhook's delivery) ---------------------------------------------------


def test_it_posts_a_body_with_its_headers_to_an_allowed_address(site, only_the_site):
    answer = outbound.post(f"{only_the_site}/hook", body=b'{"a": 1}', headers={"X-Sig": "v1,x"})
    assert answer.status == 204
    assert site.seen == [("/hook", f"127.0.0.1:{site.server_address[1]}", b'{"a": 1}', "v1,x")]


def test_a_post_to_a_private_address_is_refused_before_connecting(monkeypatch, settings):
    settings.FETCH_ALLOW_LOOPBACK = False
    resolving(monkeypatch, {"hooks.example.com": [["10.1.2.3"]]})
    with pytest.raises(outbound.NotPublic, match="10.1.2.3 is not a public address"):
        outbound.post("https://hooks.example.com/in", body=b"{}", headers={})


def test_a_post_does_not_follow_a_redirect(site, only_the_site):
    answer = outbound.post(f"{only_the_site}/to?u=http://10.0.0.1/", body=b"{}", headers={})
    assert answer.status == 307 and len(site.seen) == 1
