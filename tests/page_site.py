"""A local test site whose pages describe themselves the way real ones do
(OpenGraph, Twitter cards, JSON-LD, a bare <title>), for the metadata fetch.
The `pages` fixture (tests/conftest.py) serves it and allows its port alone."""

import json
import threading
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def opengraph_page(title: str, site: str, description: str) -> str:
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>{escape(title)} | {escape(site)}</title>
<meta name="description" content="A shorter description than the card's.">
<meta property="og:type" content="article">
<meta property="og:title" content="{escape(title)}">
<meta property="og:site_name" content="{escape(site)}">
<meta property="og:description" content="{escape(description)}">
<meta name="twitter:card" content="summary_large_image">
</head><body><article><h1>{escape(title)}</h1><p>…</p></article></body></html>"""


def json_ld_page(title: str, site: str, description: str) -> str:
    data = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "url": "/"},
            {
                "@type": "NewsArticle",
                "headline": title,
                "description": description,
                "publisher": {"@type": "Organization", "name": site},
            },
        ],
    }
    return f"""<!doctype html><html><head><title>{escape(site)}</title>
<script type="application/ld+json">{json.dumps(data)}</script>
</head><body><p>…</p></body></html>"""


def twitter_page(title: str, description: str) -> str:
    return f"""<!doctype html><html><head>
<meta name="twitter:card" content="summary"><meta name="twitter:title" content="{escape(title)}">
<meta name="twitter:description" content="{escape(description)}">
</head><body></body></html>"""


def plain_page(title: str, description: str = "") -> str:
    meta = f'<meta name="description" content="{escape(description)}">' if description else ""
    return f"<!doctype html><html><head><title>\n  {escape(title)}\n</title>{meta}</head></html>"


class PageSite(ThreadingHTTPServer):
    """path → (status, content type, body); anything else is a 404."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.pages: dict[str, tuple[int, str, bytes]] = {}
        self.asked: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def add(self, path: str, html: str, status: int = 200, content_type: str = "") -> str:
        kind = content_type or "text/html; charset=utf-8"
        self.pages[path] = (status, kind, html.encode())
        return self.url + path

    def start(self) -> "PageSite":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.asked.append(self.path)
        status, kind, body = self.server.pages.get(self.path, (404, "text/html", b"Not found"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass
