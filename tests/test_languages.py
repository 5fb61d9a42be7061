"""A newsletter's readers are spoken to in its language (mail.languages): the
catalogues under locale/ translate every word the code shows readers, and a
German, French or Spanish newsletter's pages (its archive and library too)
and emails show none of the English ones, say their language in `lang`, and
write dates the local way.
The admin follows the editor's browser; reader pages never do."""

import ast
import html
import io
import re
import tokenize
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from unittest import mock

import polib
import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation.template import templatize
from freezegun import freeze_time

from mail import links
from mail.messages import recipient_values
from mail.tokens import recipient_key
from newsletter import archive
from newsletter.emails import issue_message
from newsletter.library import views as library
from newsletter.models import Click, Issue, Link, Newsletter, Section
from newsletter.rendering import render_issue
from subscribers import emails as subscriber_emails
from subscribers.models import Subscription
from tests.builders import drafting, make_delivery, make_reader, make_subscription
from tests.helpers import ROOT, URL, html_of, path_of, post_committed

pytestmark = pytest.mark.django_db

LANGUAGES = ("de", "fr", "es")
LOCALE = ROOT / "locale"

# The date of the issue below, as each language writes it in the kicker
# (upper case in the email) and in the archive.
ISSUE_DATE = datetime(2025, 3, 4, 9, tzinfo=UTC)
KICKERS = {
    "de": ("AUSGABE NR. 7 · 4. MÄRZ 2025", "Ausgabe Nr. 7 · 4. März 2025", "4. März 2025"),
    "fr": ("NUMÉRO 7 · 4 MARS 2025", "Numéro 7 · 4 mars 2025", "4 mars 2025"),
    "es": ("NÚMERO 7 · 4 DE MARZO DE 2025", "Número 7 · 4 de marzo de 2025", "4 de marzo de 2025"),
}


# -- what the code asks the catalogues for ------------------------------------------

SOURCE = ("api", "config", "mail", "newsletter", "subscribers", "webhooks")
# Each gettext function and the literal arguments it takes: c context, s message, p plural.
GETTEXT = {
    "_": "s",
    "gettext": "s",
    "gettext_lazy": "s",
    "gettext_noop": "s",
    "ngettext": "sp",
    "ngettext_lazy": "sp",
    "pgettext": "cs",
    "pgettext_lazy": "cs",
    "npgettext": "csp",
    "npgettext_lazy": "csp",
}
SKIPPED = {tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT}


def used_messages() -> set[tuple[str | None, str]]:
    """(context, message id) of every gettext call in our Python and of every
    {% translate %} and {% blocktranslate %} in our templates (turned into
    gettext calls by Django's own templatize, as makemessages does): a fresh
    extraction that needs no GNU gettext."""
    found = set()
    for path in sorted((ROOT / "templates").rglob("*")):
        if path.suffix in (".html", ".txt", ".mjml"):
            calls = templatize(path.read_text(), origin=str(path))
            # One call a line; the blanked-out text around them is no Python to indent.
            found |= _gettext_calls("\n".join(line.lstrip() for line in calls.splitlines()))
    for package in SOURCE:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                found |= _gettext_calls(path.read_text())
    return found


def _gettext_calls(source: str) -> set[tuple[str | None, str]]:
    tokens = [
        token
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type not in SKIPPED
    ]
    found = set()
    for i, token in enumerate(tokens[:-1]):
        if token.type == tokenize.NAME and token.string in GETTEXT and tokens[i + 1].string == "(":
            kinds = GETTEXT[token.string]
            literals = _literal_arguments(tokens, i + 2)[: len(kinds)]
            if len(literals) == len(kinds) and None not in literals:
                named = dict(zip(kinds, literals, strict=True))
                found.add((named.get("c"), named["s"]))
    return found


def _literal_arguments(tokens, start: int) -> list[str | None]:
    """The arguments of a call whose "(" is just before `start`: each a string
    literal (adjacent ones joined), or None for anything else."""
    arguments, current, literal, depth = [], "", True, 0
    for token in tokens[start:]:
        if depth == 0 and token.string in (",", ")"):
            arguments.append(current if literal and current else None)
            if token.string == ")":
                break
            current, literal = "", True
            continue
        depth += token.string in "([{" and token.type == tokenize.OP
        depth -= token.string in ")]}" and token.type == tokenize.OP
        if token.type == tokenize.STRING and depth == 0:
            current += ast.literal_eval(token.string)
        else:
            literal = False
    return arguments


def catalogue(language: str) -> polib.POFile:
    return polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))


def _forms(entry: polib.POEntry) -> list[str]:
    return list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]


PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
TAG = re.compile(r"</?[a-z]+")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalogue_translates_every_word_the_code_shows(language):
    entries = {(e.msgctxt, e.msgid): e for e in catalogue(language) if not e.obsolete}
    used = used_messages()
    assert len(used) > 150, "the extraction found too few words: is it still reading the code?"
    assert ("newsletter edition", "Issue #%(number)s") in used
    assert (None, "Confirm your subscription to %(name)s") in used

    missing = sorted(key[1] for key in used - entries.keys())
    assert not missing, f"not in locale/{language} (run makemessages, README: Languages)"
    untranslated = sorted(
        key[1] for key in used if "fuzzy" in entries[key].flags or not all(_forms(entries[key]))
    )
    assert not untranslated, f"untranslated or fuzzy in locale/{language}"
    for key in used:
        entry = entries[key]
        for form in _forms(entry):
            # Every %(name)s kept (a plural's singular may say "1" instead of its count).
            assert set(PLACEHOLDER.findall(form)) >= set(PLACEHOLDER.findall(entry.msgid)) - {
                "%(count)d"
            }, (entry.msgid, form)
            assert sorted(TAG.findall(form)) == sorted(TAG.findall(entry.msgid)), form


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_mo_files_are_the_compiled_po_files(language):
    """A fresh machine needs no GNU gettext: the .mo files are committed, so
    they must be what compilemessages makes of the .po files."""
    folder = LOCALE / language / "LC_MESSAGES"
    compiled = {
        (e.msgctxt, e.msgid): _forms(e) for e in polib.mofile(str(folder / "django.mo")) if e.msgid
    }
    source = {(e.msgctxt, e.msgid): _forms(e) for e in catalogue(language).translated_entries()}
    assert compiled == source, "run compilemessages (README: Languages)"


# -- a newsletter in each language ---------------------------------------------------


@dataclass
class World:
    newsletter: Newsletter
    reader: Subscription  # confirmed, named Rosa
    pending: Subscription
    issue: Issue


# The editor's own words in every world: no language's, so that whatever
# English a page shows is ours.
EDITOR = {
    "name": "Feldpost",
    "other": "Zweitpost",
    "description": "Zettel, Notizen, Fundstücke.",
    "sender": "Mara Quist",
    "address": "Hafenstraße 14\n20459 Hamburg",
    "ask": "Wie war's?",
    "reader": "Rosa",
    "subject": "Kleine Modelle",
    "intro": "Moin.",
    "section": "Forschung",
    "link": "Notizen",
    "commentary": "Gut.",
}


def world(language: str, slug: str = "feldpost", reader: str = "rosa@example.com") -> World:
    """A newsletter in `language`, a reader of it (and of a second one she
    left), a reader yet to confirm, and a sent issue."""
    sender = {"sender_name": EDITOR["sender"], "sender_email": "mara@example.com"}
    newsletter = Newsletter.objects.create(
        slug=slug,
        name=EDITOR["name"],
        language=language,
        description=EDITOR["description"],
        postal_address=EDITOR["address"],
        accent_colour="#0b6e69",
        time_zone="Europe/Berlin",
        feedback_ask=EDITOR["ask"],
        **sender,
    )
    other = Newsletter.objects.create(
        slug=f"{slug}-2", name=EDITOR["other"], language=language, postal_address="-", **sender
    )
    reader = make_reader(newsletter, reader)
    reader.subscriber.name = EDITOR["reader"]
    reader.subscriber.save()
    make_subscription(other, reader.subscriber.email, status="unsubscribed")
    pending = make_subscription(newsletter, f"pia.{slug}@example.com", status="pending")
    issue = Issue.objects.create(
        newsletter=newsletter,
        number=7,
        subject=EDITOR["subject"],
        intro=EDITOR["intro"],
        status=Issue.Status.SENT,
        started_at=ISSUE_DATE,
        sent_at=ISSUE_DATE,
    )
    with drafting(issue):
        section = Section.objects.create(issue=issue, position=1, title=EDITOR["section"])
        Link.objects.create(
            section=section,
            title=EDITOR["link"],
            url="https://example.org/notizen",
            commentary=EDITOR["commentary"],
        )
    return World(newsletter, reader, pending, issue)


# -- the English a page must not show -------------------------------------------------

_PIECES = re.compile(r"%\(\w+\)[sd]|%%|<[^>]*>")


def english_words(language: str) -> set[str]:
    """Every run of words of our English message ids that the language's own
    translations never use ("Subscribe", "The link works for"; not "Newsletter"
    or "Name", which are German too)."""
    entries = [e for e in catalogue(language) if not e.obsolete]
    translated = " ".join(form for e in entries for form in _forms(e))
    words = set()
    for entry in entries:
        for msgid in filter(None, (entry.msgid, entry.msgid_plural)):
            for piece in _PIECES.split(msgid):
                piece = piece.strip(" #:.,;?!“”()")
                if len(piece) >= 4 and not _shows(piece, translated):
                    words.add(piece)
    return words


def _shows(words: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(words)}(?!\w)", text) is not None


class _Visible(HTMLParser):
    """The text a reader sees (and a screen reader reads, and a link preview
    shows) in a page or an email."""

    HIDDEN = {"style", "script"}
    PREVIEWED = {"description", "og:title", "og:description", "twitter:title"}

    def __init__(self):
        super().__init__()
        self.parts, self.hidden = [], 0

    def handle_starttag(self, tag, attrs):
        self.hidden += tag in self.HIDDEN
        self.parts += [value for name, value in attrs if name in ("title", "aria-label") and value]
        named = dict(attrs)
        if tag == "meta" and (named.get("name") or named.get("property")) in self.PREVIEWED:
            self.parts.append(named.get("content") or "")

    def handle_endtag(self, tag):
        self.hidden -= tag in self.HIDDEN

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def _texts(markup: str) -> list[str]:
    """Each piece of text between tags, its spaces collapsed."""
    parser = _Visible()
    parser.feed(markup)
    return [" ".join(html.unescape(part).split()) for part in parser.parts]


def visible(markup: str) -> str:
    return " ".join(_texts(markup))


def english_left(text: str, language: str) -> list[str]:
    """The English of our catalogue in `text` (a page, an email's HTML or text part)."""
    text = URL.sub(" ", text)
    return sorted(words for words in english_words(language) if _shows(words, text))


WORD = re.compile(r"[^\W\d_]{3,}")


def said_alike(english: str, other: str, language: str) -> set[str]:
    """What a page (or an email part) says word for word as its English twin
    does, in words neither the editor's nor the language's own: English that
    the catalogue may not even know of (words nobody wrapped in gettext)."""

    def pieces(shown: str) -> set[str]:
        return set(_texts(shown) if "<" in shown else shown.splitlines())

    own = set(WORD.findall(" ".join(EDITOR.values()) + " Letterpress example com org"))
    own |= {w for e in catalogue(language) for form in _forms(e) for w in WORD.findall(form)}
    shared = pieces(english) & pieces(other)
    return {piece for piece in shared if set(WORD.findall(URL.sub(" ", piece))) - own}


def test_an_english_page_is_found_to_speak_english(client):
    """The checks below can fail: an English page shows our English, and what
    another page says word for word as it does is found."""
    english = world("en")
    page = client.get(f"/subscribe/{english.newsletter.slug}/").text
    assert '<html lang="en">' in page
    found = english_left(visible(page), "de")
    assert "Subscribe" in found and "Email address" in found
    half_done = page.replace("Email address", "E-Mail-Adresse")
    assert "Subscribe to Feldpost" in said_alike(page, half_done, "de")
    assert "E-Mail-Adresse" not in said_alike(half_done, half_done, "de")


# -- pages -----------------------------------------------------------------------------


def reader_pages(client, settings, capture, here: World) -> dict[str, str]:
    """Every page a reader of `here` can reach, by name: its HTML (or text)."""
    settings.RATELIMIT_ENABLED = False
    slug, subscriber = here.newsletter.slug, here.reader.subscriber
    get, post = client.get, client.post
    shown = {"signup": get(f"/subscribe/{slug}/")}
    shown["signup with a mistake"] = post(f"/subscribe/{slug}/", {"email": "rosa", "name": "R"})
    shown["signup without an address"] = post(f"/subscribe/{slug}/", {"email": ""})
    shown["check your inbox"] = post(f"/subscribe/{slug}/", {"email": "uli@example.com"})
    shown["embedded signup"] = get(f"/subscribe/{slug}/embed/")

    confirm = path_of(links.confirm_url(here.pending))
    shown["confirm"] = get(confirm)
    with freeze_time(timezone.now() + timedelta(days=8)):
        shown["confirm link expired"] = get(confirm)
    shown["confirmed"] = post(confirm)

    unsubscribe = path_of(links.unsubscribe_url(here.reader))
    shown["unsubscribe"] = get(unsubscribe)
    shown["unsubscribed"] = post(unsubscribe, {"reason": "too-many"})
    shown["resubscribed"] = post(unsubscribe, {"action": "resubscribe"})
    shown["one-click unsubscribe"] = post(
        path_of(links.one_click_url(here.pending)),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    preferences = path_of(links.preferences_url(subscriber, here.newsletter))
    shown["preferences"] = get(preferences)
    saved = {"action": "save", "name": "Rosa", "newsletters": [here.newsletter.pk]}
    shown["preferences saved"] = post(preferences, saved, follow=True)
    shown["data link sent"] = post_committed(client, capture, preferences, {"action": "email_data"})
    with freeze_time(timezone.now() + timedelta(days=91)):
        shown["preferences link expired"] = get(preferences)
    shown["delete your data"] = get(path_of(links.reader_url("erase", subscriber, here.newsletter)))

    shown["issue"] = get(here.issue.get_absolute_url())
    shown["archive"] = get(here.newsletter.get_absolute_url())
    delivery = make_delivery(here.issue, here.reader)
    shown["feedback"] = get(path_of(links.url("feedback", recipient_key(delivery.pk), "loved")))
    shown["issue not found"] = get(f"/archive/{slug}/no-such-issue/")
    shown |= library_pages(client, here)

    settings.RATELIMIT_ENABLED, settings.SIGNUP_RATE_PER_IP = True, 0
    shown["too many signups"] = post(f"/subscribe/{slug}/", {"email": "uli@example.com"})
    return {name: response.text for name, response in shown.items()}


def library_pages(client, here: World) -> dict:
    """The archive a page at a time and as a library: search (its form, its
    results a page at a time, its mistakes), a link's page, sources, most
    clicked, a page past the end. One page a result or an issue, so that two
    issues make two pages."""
    older = Issue.objects.create(
        newsletter=here.newsletter,
        number=6,
        subject=EDITOR["subject"],
        status=Issue.Status.SENT,
        sent_at=ISSUE_DATE - timedelta(days=28),
    )
    with drafting(older):
        section = Section.objects.create(issue=older, position=1, title=EDITOR["section"])
        Link.objects.create(section=section, title=EDITOR["link"], url="https://example.org/alt")
    link = Link.objects.get(section__issue=here.issue)
    Click.objects.create(link=link, kind=Click.Kind.HUMAN)

    slug, get = here.newsletter.slug, client.get
    search, words = reverse("archive_search", args=[slug]), {"q": EDITOR["link"]}
    shown = {"search": get(search)}
    with mock.patch.object(library, "PER_PAGE", 1):
        shown["search results"] = get(search, words)
        shown["search results, page 2"] = get(search, words | {"page": 2})
        shown["search past its last page"] = get(search, words | {"page": 9})
    shown["search with a mistake"] = get(search, {"year": "1999", "source": "nowhere.example"})
    shown["search with no word"] = get(search, {"q": "*"})
    shown["search finding nothing"] = get(search, {"q": "Quist"})
    shown["link"] = get(reverse("archive_link", args=[slug, link.pk]))
    shown["sources"] = get(reverse("archive_sources", args=[slug]))
    most_clicked = reverse("archive_most_clicked", args=[slug])
    shown["most clicked"] = get(most_clicked)
    shown["most clicked in a year without issues"] = get(most_clicked, {"year": "1999"})
    with mock.patch.object(archive, "ISSUES_PER_PAGE", 1):
        shown["archive, page 1 of 2"] = get(here.newsletter.get_absolute_url())
        shown["archive, page 2"] = get(here.newsletter.get_absolute_url(), {"page": 2})
    shown["archive page past the end"] = get(here.newsletter.get_absolute_url(), {"page": 9})
    return shown


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_a_reader_reaches_speaks_the_newsletters_language(
    language, client, settings, django_capture_on_commit_callbacks
):
    here, twin = world(language), world("en", slug="twin", reader="rosa@twin.example")
    pages = reader_pages(client, settings, django_capture_on_commit_callbacks, here)
    english = reader_pages(client, settings, django_capture_on_commit_callbacks, twin)

    left = {name: english_left(visible(page), language) for name, page in pages.items()}
    assert left == {name: [] for name in pages}
    alike = {name: said_alike(english[name], page, language) for name, page in pages.items()}
    assert alike == {name: set() for name in pages}
    plain = pages.pop("one-click unsubscribe")
    assert "Feldpost" in plain
    for name, page in pages.items():
        assert f'<html lang="{language}">' in page, name
    _, kicker, date = KICKERS[language]
    assert kicker in visible(pages["issue"])
    for name in ("issue", "archive", "archive, page 2"):  # the signup card is checked with them
        assert 'id="subscribe"' in pages[name], name
    assert 'rel="next"' in pages["search results"] and 'rel="prev"' in pages["archive, page 2"]
    assert date in visible(pages["archive"])


def test_an_archive_without_links_counts_none_of_them(client):
    """French says "one" of nothing (plural=n > 1): a count of 0 is not said at all."""
    Newsletter.objects.create(slug="vide", name="Vide", language="fr", postal_address="-")
    search = client.get(reverse("archive_search", args=["vide"])).text
    sources = client.get(reverse("archive_sources", args=["vide"])).text
    assert "Aucun numéro n’est encore paru." in sources
    for page in (search, sources):
        assert "seul" not in visible(page)


def test_the_reason_a_reader_gives_is_stored_in_the_site_language(client):
    """Editors read every reader's reason side by side, whatever page it came from."""
    here = world("de")
    page = client.get(path_of(links.unsubscribe_url(here.reader)))
    assert "Zu viele E-Mails" in page.text
    client.post(path_of(links.unsubscribe_url(here.reader)), {"reason": "too-many"})
    here.reader.refresh_from_db()
    assert here.reader.reason == "Too many emails"


# -- emails ----------------------------------------------------------------------------


def reader_emails(here: World) -> dict[str, mail.EmailMessage]:
    """Every email a reader of `here` can get, through its real send path."""
    mail.outbox.clear()
    subscriber = here.reader.subscriber
    subscriber_emails.send_confirm(here.pending)
    subscriber_emails.send_welcome(here.reader)
    subscriber_emails.send_already_subscribed(here.reader)
    for purpose in ("preferences", "data", "erase"):
        subscriber_emails.send_reader_link(subscriber, purpose, newsletter=here.newsletter)
    values = recipient_values(here.reader)
    issue_message(here.issue, render_issue(here.issue), to=subscriber.email, values=values).send()
    names = ("confirm", "welcome", "already subscribed", "preferences link", "data link")
    names += ("erase link", "issue")
    return dict(zip(names, mail.outbox, strict=True))


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_email_a_reader_gets_speaks_the_newsletters_language(language):
    english = reader_emails(world("en", slug="twin", reader="rosa@twin.example"))
    here = world(language)
    emails = reader_emails(here)

    for name, message in emails.items():
        shown = f"{message.subject}\n{visible(html_of(message))}\n{message.body}"
        assert english_left(shown, language) == [], name
        twin = english[name]
        assert said_alike(html_of(twin), html_of(message), language) == set(), name
        assert said_alike(twin.body, message.body, language) == set(), name
        assert f'<html lang="{language}"' in html_of(message), name
    kicker, _, _ = KICKERS[language]
    assert kicker in visible(html_of(emails["issue"]))
    # Words whose grammar depends on the newsletter: its cadence and a link's lifetime.
    welcome = {"de": "am ersten Dienstag", "fr": "le premier mardi", "es": "el primer martes"}
    assert welcome[language] in emails["welcome"].body
    lifetime = {"de": "7 Tage", "fr": "7 jours", "es": "7 días"}
    assert lifetime[language] in emails["confirm"].body


def test_english_emails_are_as_they_were(mailoutbox):
    here = world("en")
    emails = reader_emails(here)
    assert emails["confirm"].subject == "Confirm your subscription to Feldpost"
    assert "The link works for 7 days." in " ".join(emails["confirm"].body.split())
    assert "Once a month, on the first Tuesday," in " ".join(emails["welcome"].body.split())
    assert "ISSUE #7 · 4 MARCH 2025" in visible(html_of(emails["issue"]))
    assert '<html lang="en"' in html_of(emails["issue"])


# -- the preferences page of a reader of several newsletters -----------------------------


def two_worlds() -> tuple[World, World]:
    """Rosa reads a German and a French newsletter; she confirmed the French one last."""
    german, french = world("de"), world("fr", slug="gazette")
    later = timezone.now() + timedelta(minutes=1)
    Subscription.objects.filter(pk=french.reader.pk).update(confirmed_at=later)
    return german, french


def test_a_preferences_page_speaks_the_language_of_the_newsletter_whose_link_it_is(client):
    german, french = two_worlds()
    subscriber = german.reader.subscriber

    page = client.get(path_of(links.preferences_url(subscriber, german.newsletter)))
    assert '<html lang="de">' in page.text and "Ihre Einstellungen" in page.text
    # The footer link of the French newsletter's issues: its own language.
    _, _, from_issue = links.ReaderLinks()(french.reader)
    page = client.get(path_of(from_issue))
    assert '<html lang="fr">' in page.text and "Vos préférences" in page.text
    # And the German one's, though French was confirmed last.
    _, _, from_issue = links.ReaderLinks()(german.reader)
    assert '<html lang="de">' in client.get(path_of(from_issue)).text


def test_a_preferences_link_that_names_no_newsletter_speaks_the_last_confirmed_ones(client):
    """Links already in inboxes from before links named their newsletter."""
    german, _ = two_worlds()
    page = client.get(path_of(links.preferences_url(german.reader.subscriber)))
    assert '<html lang="fr">' in page.text


def test_a_link_asked_for_on_a_page_comes_in_that_pages_language(
    client, django_capture_on_commit_callbacks
):
    german, _ = two_worlds()
    preferences = path_of(links.preferences_url(german.reader.subscriber, german.newsletter))
    mail.outbox.clear()
    post_committed(
        client, django_capture_on_commit_callbacks, preferences, {"action": "email_erase"}
    )

    [message] = mail.outbox
    assert message.subject == "Bestätigen Sie das Löschen Ihrer Daten"
    erase = next(url for url in URL.findall(message.body) if "/erase/" in url)
    page = client.get(path_of(erase))
    assert '<html lang="de">' in page.text and "Ihre Daten löschen?" in page.text


# -- pages that know no newsletter, and the admin -------------------------------------------


def test_pages_that_know_no_newsletter_speak_the_sites_language(client):
    world("de")
    for path in ("/subscribe/", "/archive/", "/confirm/not-a-token/", "/no-such-page/"):
        page = client.get(path, HTTP_ACCEPT_LANGUAGE="de")
        assert '<html lang="en">' in page.text, path


def test_the_indexes_show_each_newsletter_in_its_own_language(client):
    world("de")
    page = client.get("/subscribe/")
    assert '<li class="card" lang="de">' in page.text
    assert "Feldpost abonnieren" in page.text
    page = client.get("/archive/")
    assert '<section class="newsletter" lang="de">' in page.text
    assert "4. März 2025" in page.text


def test_the_feed_says_its_newsletters_language(client):
    here = world("fr")
    feed = client.get(f"/archive/{here.newsletter.slug}/feed/")
    assert 'xml:lang="fr"' in feed.text


def test_the_admin_follows_the_editors_browser_and_reader_pages_do_not(client, admin_client):
    here = world("fr")
    login = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="de")
    assert '<html lang="de"' in login.text and "Anmelden" in login.text
    assert login["Content-Language"] == "de"
    # The next request on the same thread starts afresh: the newsletter's language.
    page = client.get(f"/subscribe/{here.newsletter.slug}/", HTTP_ACCEPT_LANGUAGE="de")
    assert '<html lang="fr">' in page.text
    admin = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="es")
    assert '<html lang="es"' in admin.text


def test_a_request_leaves_the_language_as_it_found_it(client):
    """What runs after a request on the same thread (a test, a task run inline)
    is not left speaking the language the request chose."""
    client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="de")
    assert translation.get_language() == "en"
    assert str(subscriber_emails.SUBJECTS["data_link"]) == "Your link to download your data"
