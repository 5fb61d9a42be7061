"""Editor text: Markdown to safe HTML (nh3) and to plain text, from one source.

Every Markdown field (issue intro and sign-off, section intro, link
commentary, newsletter description) goes through markdown_html() for emails
and pages and markdown_text() for the text/plain part. Plain fields (titles,
source labels) go through plain(). Editor HTML, scripts, event handlers and
non-http(s)/mailto links never get through.
"""

import html
import re
import textwrap
import threading
from html.parser import HTMLParser

import markdown
import nh3
from markdown.extensions import Extension
from markdown.inlinepatterns import HtmlInlineProcessor

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h3",
    "h4",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "sub",
    "sup",
    "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}


_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    url_schemes=URL_SCHEMES,
    # A relative link means nothing in an email: keep absolute ones only.
    url_relative="deny",
    strip_comments=True,
)
_stripper = nh3.Cleaner(tags=set(), strip_comments=True)


def sanitize(source: str) -> str:
    """HTML with only harmless tags, attributes and absolute http(s)/mailto links."""
    return _cleaner.clean(source)


# Anything a browser would take for a tag. Markdown's own pattern is stricter
# (it misses `<img src=x onerror=alert("x")>`) and escapes the rest as visible
# text; passing these on as HTML lets nh3 remove them instead.
LOOSE_TAG = r"(</?[a-zA-Z][^\s<>]*(?:\s[^<>]*)?>)"


class _LooseTags(Extension):
    def extendMarkdown(self, md) -> None:  # noqa: N802 (Markdown's API)
        md.inlinePatterns.register(HtmlInlineProcessor(LOOSE_TAG, md), "loose_html", 89)


_converters = threading.local()


def _markdown() -> markdown.Markdown:
    """This thread's converter, reset: building one costs more than most
    conversions (the archive's search index converts every commentary)."""
    converter = getattr(_converters, "markdown", None)
    if converter is None:
        extensions = ["sane_lists", _LooseTags()]
        converter = _converters.markdown = markdown.Markdown(
            extensions=extensions, output_format="html"
        )
    return converter.reset()


def markdown_html(source: str) -> str:
    if not source.strip():
        return ""
    return sanitize(_markdown().convert(source))


def plain(value: str) -> str:
    """A plain-text field (a title, a label) with any HTML tags taken out."""
    if "<" not in value and "&" not in value:
        return value
    cleaned = html.unescape(_stripper.clean(value))
    # Entity-encoded markup (&lt;script&gt;) must not come back to life.
    return cleaned.replace("<", "‹").replace(">", "›")


def _collapse(data: str) -> str:
    """Whitespace as a browser shows it: any run of it is one space."""
    return re.sub(r"\s+", " ", data)


class _TextWriter(HTMLParser):
    """Sanitised HTML to readable plain text: paragraphs, list items, links as 'text (url)'."""

    BLOCKS = {"p", "blockquote", "pre", "h3", "h4", "ul", "ol", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.links: list[tuple[str, int]] = []
        self.lists: list[list] = []
        self.in_pre = False

    def _is_block(self, tag: str) -> bool:
        # A nested list continues its parent item rather than starting a paragraph.
        return tag in self.BLOCKS and not (tag in ("ul", "ol") and self.lists)

    def handle_starttag(self, tag, attrs):
        if self._is_block(tag):
            self.out.append("\n\n")
        if tag == "pre":
            self.in_pre = True
        elif tag == "hr":
            self.out.append("* * *\n\n")
        elif tag == "br":
            self.out.append("\n")
        elif tag in ("ul", "ol"):
            start = dict(attrs).get("start") or "1"
            self.lists.append([tag, int(start) if start.isdigit() else 1])
        elif tag == "li":
            bullet = "- "
            if self.lists and self.lists[-1][0] == "ol":
                bullet = f"{self.lists[-1][1]}. "
                self.lists[-1][1] += 1
            self.out.append("\n" + "  " * max(len(self.lists) - 1, 0) + bullet)
        elif tag == "a":
            self.links.append((dict(attrs).get("href") or "", len(self.out)))

    def handle_endtag(self, tag):
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        if tag == "pre":
            self.in_pre = False
        if self._is_block(tag):
            self.out.append("\n\n")
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.out[start:]).strip()
            if href and href not in (label, f"mailto:{label}"):
                self.out.append(f" ({href})")

    def handle_data(self, data):
        if not self.in_pre:
            data = _collapse(data)
            if not self.out or self.out[-1].endswith("\n"):
                data = data.lstrip()
        self.out.append(data)

    def text(self) -> str:
        lines = "".join(self.out).split("\n")
        result, blank = [], True
        for line in (line.rstrip() for line in lines):
            if line or not blank:
                result.append(line)
            blank = not line
        return "\n".join(result).strip()


def html_to_text(safe_html: str) -> str:
    writer = _TextWriter()
    writer.feed(safe_html)
    writer.close()
    return writer.text()


def markdown_text(source: str) -> str:
    """The plain-text reading of a Markdown field, links spelled out."""
    return html_to_text(markdown_html(source))


# Where a block of sanitised HTML ends: a space there keeps its words apart.
_BLOCK_END = re.compile(r"</(?:p|li|h3|h4|blockquote|pre)>|<br\s*/?>|<hr\s*/?>")


def excerpt(value: str, limit: int) -> str:
    """Text on one line, at most `limit` characters, cut after a whole word
    with an ellipsis: how a page describes itself to search engines."""
    flat = " ".join(value.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    words = cut.rsplit(" ", 1)[0]
    # One very long word: cut inside it rather than drop most of the text.
    kept = words if len(words) > limit // 2 else cut
    return kept.rstrip(" ,;:.-–—") + "…"


def markdown_excerpt(source: str, limit: int) -> str:
    """A Markdown field as one line of plain text, links as their words only, cut to `limit`."""
    return excerpt(plain(_BLOCK_END.sub(" ", markdown_html(source))), limit)


class _LinkFinder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        href = (dict(attrs).get("href") or "") if tag == "a" else ""
        if href.startswith(("http://", "https://")):
            self.hrefs.append(href)


def markdown_links(source: str) -> list[str]:
    """The http(s) links a Markdown field carries, as its email shows them, in order."""
    finder = _LinkFinder()
    finder.feed(markdown_html(source))
    finder.close()
    return list(dict.fromkeys(finder.hrefs))


# The text part's width: mail clients show 78 columns (RFC 5322's advice).
TEXT_WIDTH = 78
# A list item's marker: its continuation lines line up under the item's text.
_MARKER = re.compile(r"(\s*)([-*•]\s+|\d+[.)]\s+)?")


def wrap(text: str, width: int = TEXT_WIDTH) -> str:
    """A text part with every line wrapped at `width`, each continuation
    indented like its line (under a list item's text); words and URLs are
    never broken, so a URL longer than the width stands on a line of its own."""
    out = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        lead, marker = _MARKER.match(line).groups()
        out.append(
            textwrap.fill(
                line[len(lead) :],
                width,
                initial_indent=lead,
                subsequent_indent=lead + " " * len(marker or ""),
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n".join(out)
