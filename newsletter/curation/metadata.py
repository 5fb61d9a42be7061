"""What a page says about itself: its title, the site it is on and a summary,
read from its OpenGraph and Twitter-card tags, JSON-LD, <title> and meta
description (in that order of trust), with BeautifulSoup. Fetched only through
config.outbound (public addresses, 5 s, 2 MB)."""

import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from bs4 import BeautifulSoup

from config import outbound

HTML_TYPES = ("text/html", "application/xhtml+xml")
TITLE_MAX, SOURCE_MAX, SUMMARY_MAX = 300, 100, 1000
JSON_LD_MAX = 200_000  # characters of one script: a page's own description, not a data dump


class NoMetadata(Exception):
    """No metadata from this page, and why, in words the editor can act on."""


@dataclass(frozen=True)
class PageMetadata:
    title: str
    source: str
    summary: str


def fetch_metadata(url: str) -> PageMetadata:
    """The page's metadata; NoMetadata (with the reason) when it cannot be had."""
    try:
        fetched = outbound.fetch(url, accept="text/html,application/xhtml+xml;q=0.9")
    except outbound.Refused as exc:
        raise NoMetadata(str(exc)) from exc
    if fetched.status >= 400:
        raise NoMetadata(f"the page answered {fetched.status}")
    kind, _, params = fetched.content_type.partition(";")
    kind = kind.strip().lower()
    if kind not in HTML_TYPES:
        raise NoMetadata(f"not a web page ({kind or 'no content type'})")
    charset = re.search(r"charset=[\"']?([\w.:-]+)", params, re.IGNORECASE)
    return page_metadata(fetched.body, fetched.url, encoding=charset and charset.group(1))


def page_metadata(html: bytes | str, url: str, encoding: str | None = None) -> PageMetadata:
    if isinstance(html, bytes):
        soup = BeautifulSoup(html, "html.parser", from_encoding=encoding)
    else:
        soup = BeautifulSoup(html, "html.parser")
    meta: dict[str, str] = {}
    for tag in soup.find_all("meta"):
        key = str(tag.get("property") or tag.get("name") or "").strip().lower()
        content = tag.get("content")
        if key and content and key not in meta:
            meta[key] = str(content)
    article = _json_ld_article(soup)
    title_tag = soup.title.get_text() if soup.title else ""
    return PageMetadata(
        title=_first(
            TITLE_MAX,
            meta.get("og:title"),
            meta.get("twitter:title"),
            article.get("headline"),
            article.get("name"),
            title_tag,
        ),
        source=_first(
            SOURCE_MAX,
            meta.get("og:site_name"),
            _name_of(article.get("publisher")),
            meta.get("application-name"),
            site_of(url),
        ),
        summary=_first(
            SUMMARY_MAX,
            meta.get("og:description"),
            meta.get("twitter:description"),
            article.get("description"),
            meta.get("description"),
        ),
    )


def site_of(url: str) -> str:
    """The source when the page names none: its host, without www."""
    return (urlsplit(url).hostname or "").removeprefix("www.")


def _first(limit: int, *values) -> str:
    for value in values:
        if isinstance(value, str):
            text = " ".join(value.split())
            if text:
                return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
    return ""


def _name_of(value) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        return value.get("name")
    return value if isinstance(value, str) else None


def _json_ld_article(soup) -> dict:
    """The first JSON-LD item with a headline or a name (an @graph searched too)."""
    for script in soup.find_all("script", type="application/ld+json"):
        text = script.string or ""
        if len(text) > JSON_LD_MAX:
            continue
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            continue
        items = data if isinstance(data, list) else [data]
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("@graph"), list):
                items.extend(item["@graph"])
        for item in items:
            if isinstance(item, dict) and (item.get("headline") or item.get("name")):
                return item
    return {}
