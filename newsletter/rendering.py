"""Issue rendering: the issue's data, sanitised, into its email (MJML → HTML with
mjml-python) and text part, rendered once per issue version and shared by every
reader; per-recipient parts are mail.rendering's [[placeholders]].
"""

import hashlib
import html as html_escaping
import re
import textwrap
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.urls import reverse

from mail import text
from mail.languages import speaking
from mail.links import tracked_href
from mail.rendering import RenderError, mjml_to_html, placeholder
from newsletter.models import Issue, Newsletter, ProseLink

# -- Issues ------------------------------------------------------------------

# Gmail clips an email's HTML beyond about 102 KB (counted here in bytes, to be safe).
GMAIL_CLIP_BYTES = 102 * 1000

# Bump when the issue templates or their translations change, so cached renders
# are dropped (a change of the newsletter's language changes the key by itself).
TEMPLATE_VERSION = 7
CACHE_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class RenderedIssue:
    """One issue, rendered once and shared by every reader (placeholders not filled)."""

    subject: str
    preheader: str
    html: str
    text: str


def link_href(link) -> str:
    """Where a link in the email points: through /l/ when the newsletter tracks
    clicks; the web version of an issue links directly."""
    newsletter = link.section.issue.newsletter
    if not newsletter.click_tracking:
        return link.url
    return tracked_href(link, per_subscriber=newsletter.per_subscriber_tracking)


def lighten(colour: str, amount: float) -> str:
    """#rrggbb mixed with white: the accent for text on a dark background."""
    try:
        channels = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    except ValueError:
        return "#8ab4f8"
    return "#" + "".join(f"{round(c + (255 - c) * amount):02x}" for c in channels)


def accented(safe_html: str, colour: str) -> str:
    """Sanitised prose whose links carry the accent inline: a client that drops
    <style> would show them in its default blue (colour is a checked #rrggbb)."""
    return safe_html.replace("<a ", f'<a style="color:{colour}" ')


def absolute_url(path: str) -> str:
    return settings.SITE_URL + path


def _field_errors(obj, exclude: list[str]) -> list[str]:
    try:
        obj.clean_fields(exclude=exclude)
    except ValidationError as exc:
        return [f"{name}: {' '.join(messages)}" for name, messages in exc.message_dict.items()]
    return []


def _checked(where: str, obj, exclude: list[str]) -> None:
    errors = _field_errors(obj, exclude)
    if errors:
        raise RenderError(f"{where}: {'; '.join(errors)}")


def _link_context(link, where: str) -> dict:
    _checked(where, link, exclude=["section", "position"])
    return {
        "pk": link.pk,  # the web page's permalink to it (newsletter.library)
        "title": text.plain(link.shown_title),
        "url": link.url,
        "href": link_href(link),
        "source": text.plain(link.source),
        "commentary_html": text.markdown_html(link.commentary),
        # Indented under its link in the text part.
        "commentary_text": textwrap.indent(text.markdown_text(link.commentary), "  "),
    }


def section_place(section, number: int) -> str:
    """How an editor is told where something is: "Section 2 'Research'"."""
    return f"Section {number} '{section.title}'" if section.title else f"Section {number}"


def link_place(section_where: str, number: int) -> str:
    return f"{section_where} → link {number}"


def _section_context(section, number: int) -> dict:
    where = section_place(section, number)
    _checked(where, section, exclude=["issue", "position"])
    return {
        "pk": section.pk,
        "title": text.plain(section.title),
        "intro_html": text.markdown_html(section.intro),
        "intro_text": text.markdown_text(section.intro),
        "links": [
            _link_context(link, link_place(where, n))
            for n, link in enumerate(section.links.all(), start=1)
        ],
    }


def issue_context(issue) -> dict:
    """Everything an issue's email, text and web page show, sanitised, from the same data.

    RenderError names the field at fault ("Section 2 'Research' → link 3: url: ...").
    """
    newsletter = issue.newsletter
    _checked(f"Issue #{issue.number}", issue, exclude=["newsletter", "slug", "status"])
    if not newsletter.postal_address.strip():
        raise RenderError(f"Newsletter '{newsletter.name}': postal address is empty")
    sections = issue.sections.prefetch_related("links")
    return {
        "newsletter": newsletter,
        "accent_on_dark": lighten(newsletter.accent_colour, 0.55),
        "issue": issue,
        "subject": text.plain(issue.subject),
        "preheader": text.plain(issue.preheader),
        "intro_html": text.markdown_html(issue.intro),
        "intro_text": text.markdown_text(issue.intro),
        "sign_off_html": text.markdown_html(issue.sign_off),
        "sign_off_text": text.markdown_text(issue.sign_off),
        "sections": [_section_context(s, n) for n, s in enumerate(sections, start=1)],
        "web_url": absolute_url(issue.get_absolute_url()),
        "organisation": text.plain(newsletter.organisation or newsletter.sender_name),
        "siblings": [
            {
                "name": text.plain(s.name),
                "tagline": text.plain(s.tagline),
                "url": absolute_url(reverse("signup", args=[s.slug])),
            }
            for s in newsletter.siblings.all()
        ],
        "unsubscribe_url": placeholder("unsubscribe_url"),
        "preferences_url": placeholder("preferences_url"),
    }


def _cache_key(issue) -> str:
    """Changes whenever the issue, its sections or links, or its newsletter change."""
    # The dates too: scheduling may set them with an update() that leaves `updated` alone.
    updated = (
        Issue.objects.filter(pk=issue.pk)
        .values_list("updated", "send_at", "started_at", "sent_at")
        .first()
    )
    newsletter = Newsletter.objects.filter(pk=issue.newsletter_id).values().first()
    siblings = list(
        Newsletter(pk=issue.newsletter_id).siblings.values_list("slug", "name", "tagline")
    )
    # And the content as stored: workers fill links in (and corrections re-point
    # them) with update()s that no signal sees.
    content = Issue(pk=issue.pk).content_digest()
    fingerprint = repr(
        (TEMPLATE_VERSION, updated, content, newsletter, siblings, settings.SITE_URL)
    )
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:32]
    return f"rendered-issue:{issue.pk}:{digest}"


PROSE_URL_MAX = ProseLink._meta.get_field("url").max_length
# An <a>'s href in sanitised HTML (nh3 writes attributes in double quotes).
_HREF = re.compile(r'(<a\b[^>]*?\bhref=")([^"]*)(")')


class ProseTracker:
    """Sends the links of an issue's prose (intros, sign-off, commentary)
    through /l/: each URL is stored for the issue (ProseLink), and the email
    carries the stored row's signed id, never the URL itself."""

    def __init__(self, issue):
        self.issue = issue
        self.per_subscriber = issue.newsletter.per_subscriber_tracking
        self.known = {p.url: p for p in ProseLink.objects.filter(issue=issue)}

    def href(self, url: str, section_id: int | None) -> str:
        prose = self.known.get(url)
        if prose is None:
            prose, _ = ProseLink.objects.get_or_create(
                issue=self.issue, url=url, defaults={"section_id": section_id}
            )
            self.known[url] = prose
        return tracked_href(prose, per_subscriber=self.per_subscriber, prose=True)

    def __call__(self, safe_html: str, section_id: int | None = None) -> str:
        def tracked(match: re.Match) -> str:
            url = html_escaping.unescape(match.group(2))
            if not url.startswith(("http://", "https://")) or len(url) > PROSE_URL_MAX:
                return match.group(0)  # mailto: goes to the mail app; too long to store
            href = html_escaping.escape(self.href(url, section_id))
            return f"{match.group(1)}{href}{match.group(3)}"

        return _HREF.sub(tracked, safe_html)


def _track_prose(context: dict, issue) -> None:
    """The HTML prose's links through /l/. The text part spells URLs out as
    they are, as it does for the links' titles: a reader reads them there."""
    track = ProseTracker(issue)
    for key in ("intro_html", "sign_off_html"):
        context[key] = track(context[key])
    for section in context["sections"]:
        section["intro_html"] = track(section["intro_html"], section["pk"])
        for link in section["links"]:
            link["commentary_html"] = track(link["commentary_html"], section["pk"])


def email_context(issue) -> dict:
    """issue_context with the email's prose links through /l/ when the
    newsletter tracks clicks, and coloured inline (the web page colours them
    with its stylesheet, dark mode included)."""
    context = issue_context(issue)
    if issue.newsletter.click_tracking:
        _track_prose(context, issue)
    accent = issue.newsletter.accent_colour
    for key in ("intro_html", "sign_off_html"):
        context[key] = accented(context[key], accent)
    for section in context["sections"]:
        section["intro_html"] = accented(section["intro_html"], accent)
        for link in section["links"]:
            link["commentary_html"] = accented(link["commentary_html"], accent)
    return context


def _render_issue(issue) -> RenderedIssue:
    """The email around the editor's words speaks the newsletter's language."""
    context = email_context(issue)
    what = f"Issue #{issue.number}"
    with speaking(issue.newsletter):
        mjml = render_to_string("emails/issue.mjml", context)
        plain_text = render_to_string("emails/issue.txt", context)
    return RenderedIssue(
        subject=context["subject"],
        preheader=context["preheader"],
        html=mjml_to_html(mjml, what=what),
        text=text.wrap(plain_text),
    )


def render_issue(issue) -> RenderedIssue:
    """The issue's email with per-recipient placeholders, from cache when unchanged."""
    key = _cache_key(issue)
    cached = cache.get(key)
    if cached is not None:
        return RenderedIssue(**cached)
    # From the database, as the key was: a caller's stale copy must not fill the cache.
    fresh = type(issue).objects.select_related("newsletter").get(pk=issue.pk)
    rendered = _render_issue(fresh)
    cache.set(key, asdict(rendered), CACHE_SECONDS)
    return rendered
