"""The signup form on another site, in Chromium: a blog served from another
origin on loopback (127.0.0.1 on its own port; the live server is localhost)
carries the plain snippet or the iframe (subscribers.embed)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from subscribers import embed
from subscribers.models import Subscriber
from tests.builders import make_newsletter
from tests.helpers import email_to, forget_form_limits, wait_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]

CONFIRM = "Confirm your subscription to ML Monthly"


class Blog:
    """The editor's own site: pages by path, on 127.0.0.1 and a port of its own."""

    def __init__(self):
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = pages.get(self.path.split("?")[0], "<p>Not here.</p>").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def page(self, path: str, body: str) -> str:
        self.pages[path] = f"<!doctype html><html><head><title>My blog</title></head><body>{body}"
        return self.origin + path


@pytest.fixture
def blog():
    site = Blog()
    yield site
    site.server.shutdown()


@pytest.fixture
def newsletter(settings, live_server, blog, monkeypatch):
    settings.SITE_URL = live_server.url
    settings.RATELIMIT_ENABLED = False
    # A person takes longer than this; the check has its own tests.
    monkeypatch.setattr(embed, "MIN_SECONDS", 0)
    return make_newsletter(embed_origins=blog.origin)


@pytest.mark.parametrize("javascript", [False, True])
def test_the_plain_snippet_on_another_site_subscribes_a_reader(
    browser, blog, newsletter, mailoutbox, javascript
):
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    posted = []
    page.on("request", lambda r: posted.append(r.post_data or "") if r.method == "POST" else None)
    page.goto(blog.page("/", f"<h1>My blog</h1>{embed.snippet(newsletter)}"))
    page.get_by_label("Email address").fill("rosa@example.com")
    page.get_by_label("Name (optional)").fill("Rosa")
    page.get_by_role("button", name="Subscribe to ML Monthly").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()

    assert wait_for(lambda: email_to("rosa@example.com", CONFIRM))
    assert Subscriber.objects.get().name == "Rosa"
    # With JavaScript the script proved its work; without, the form went as it is.
    [body] = posted
    assert ("proof=1" in body) is javascript, body
    context.close()


def test_the_iframe_renders_only_on_a_listed_origin_and_subscribes_there(
    page, blog, newsletter, mailoutbox, live_server
):
    frame_html = embed.iframe_snippet(newsletter)
    page.goto(blog.page("/listed", f"<h1>Listed</h1>{frame_html}"))
    frame = page.frame_locator("iframe")
    frame.get_by_role("heading", name="Subscribe to ML Monthly").wait_for()
    frame.get_by_label("Email address").fill("ines@example.com")
    frame.get_by_role("button", name="Subscribe").click()
    frame.get_by_role("heading", name="Check your inbox").wait_for()
    assert wait_for(lambda: email_to("ines@example.com", CONFIRM))

    newsletter.embed_origins = "https://someone-else.example"
    newsletter.save()
    # Chromium refuses to show the page, and says why.
    with page.expect_console_message(lambda m: "frame-ancestors" in m.text):
        page.goto(blog.page("/unlisted", f"<h1>Not listed</h1>{frame_html}"))
    assert frame.get_by_role("heading", name="Subscribe to ML Monthly").count() == 0


def test_a_filled_honeypot_and_the_rate_limit_hold_on_the_embed_endpoint(
    browser, blog, newsletter, settings, mailoutbox
):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    url = blog.page("/", embed.snippet(newsletter))

    page.goto(url)
    page.get_by_label("Email address").fill("bot@example.com")
    page.locator("input[name=website]").fill("http://spam.example", force=True)
    page.get_by_role("button", name="Subscribe to ML Monthly").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    assert not Subscriber.objects.exists()

    forget_form_limits()
    settings.RATELIMIT_ENABLED = True
    settings.SIGNUP_RATE_PER_IP = 1
    for n, heading in enumerate(["Check your inbox", "Too many attempts"]):
        page.goto(url)
        page.get_by_label("Email address").fill(f"reader{n}@example.com")
        page.get_by_role("button", name="Subscribe to ML Monthly").click()
        page.get_by_role("heading", name=heading).wait_for()
    assert [m.to for m in mailoutbox] == [["reader0@example.com"]]
    forget_form_limits()
    context.close()
