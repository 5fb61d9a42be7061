"""Demo content for `make run`: a monthly on web development with one sent issue
(in the archive), the next issue as a draft in progress, and five confirmed
readers. Idempotent: what exists already is left as it is."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from newsletter.models import Delivery, Issue, Link, Newsletter, Section
from newsletter.scheduling import next_send_at
from subscribers.models import Subscriber, Subscription

NEWSLETTER = {
    "slug": "field-notes",
    "name": "Field Notes on the Web",
    "description": (
        "A monthly letter for people who build websites: the platform features worth "
        "adopting now, the standards that quietly change how we work, and a few things "
        "to learn, each with a paragraph on **why it matters**."
    ),
    "sender_name": "Mara Lindqvist",
    "sender_email": "mara@fieldnotes.example.com",
    "reply_to": "mara@fieldnotes.example.com",
    "postal_address": "Field Notes Press\n14 Marlowe Yard\nBristol BS1 4QA\nUnited Kingdom",
    "accent_colour": "#0b6e69",
    "feedback_ask": "Was this issue useful to you?",
    "cadence_week": Newsletter.WeekOfMonth.FIRST,
    "cadence_weekday": Newsletter.Weekday.TUESDAY,
    "cadence_time": "09:00",
    "time_zone": "Europe/London",
}

SIBLING = {
    "slug": "applied-ml-monthly",
    "name": "Applied ML Monthly",
    "description": "Machine learning that ships: papers, tools and tutorials, once a month.",
    "sender_name": "Mara Lindqvist",
    "sender_email": "mara@fieldnotes.example.com",
    "postal_address": NEWSLETTER["postal_address"],
    "accent_colour": "#6a3fb5",
    "time_zone": "Europe/London",
}

ISSUE_1 = {
    "number": 1,
    "subject": "The year CSS learned to look up",
    "preheader": "A parent selector at last, popovers without JavaScript, and a reading list.",
    "intro": (
        "Hello, and welcome to the very first issue of *Field Notes on the Web*. I'm Mara: "
        "I build and look after websites for a living, and every month I read far more "
        "release notes, specs and blog posts than is healthy. This letter is the short "
        "version: the handful of things I think are worth your time, and why.\n\n"
        "This month has a theme without my planning one. Browsers have shipped features "
        "that let CSS and HTML do jobs we used to hand to JavaScript, and most of them "
        "now work everywhere your readers are."
    ),
    "sign_off": (
        "That's all for the first issue. If something here helped you, or you think I got "
        "something wrong, hit reply: every answer lands in my inbox and shapes the next "
        "letter.\n\n"
        "Until next month, build something small and make it work for everyone.\n\n"
        "— Mara"
    ),
    "sections": [
        (
            "🛠️ What I made",
            "Two things I put together this month, free for anyone to use.",
            [
                (
                    "A field guide to :has(), with twelve patterns",
                    "https://notes.example.com/guides/has-selector-patterns",
                    "Field Notes",
                    "I collected the `:has()` patterns I now reach for every week: styling a "
                    "card that contains an image, a form row whose input is invalid, a "
                    "navigation bar with an open menu. Each comes with the old JavaScript "
                    "workaround next to it, so you can see what you get to delete.",
                ),
                (
                    "Container queries playground",
                    "https://notes.example.com/playground/container-queries",
                    "Field Notes",
                    "A page of resizable boxes to poke at until container queries click. "
                    "Drag a handle and watch one component rearrange itself based on the "
                    "space it has, not the width of the window. It is the demo I wish I had "
                    "when I first read the spec.",
                ),
            ],
        ),
        (
            "🌐 The best from the internet",
            "",
            [
                (
                    ":has() on MDN",
                    "https://developer.mozilla.org/en-US/docs/Web/CSS/:has",
                    "MDN Web Docs",
                    "The reference page is the quickest way to understand the selector "
                    "people called impossible for twenty years. Read the section on "
                    "specificity before you use it in a large stylesheet: `:has()` takes "
                    "the specificity of its most specific argument, which can surprise you.",
                ),
                (
                    "The View Transition API",
                    "https://developer.mozilla.org/en-US/docs/Web/API/View_Transition_API",
                    "MDN Web Docs",
                    "Animated transitions between two states of a page, with the browser "
                    "taking the snapshots and doing the cross-fade. Same-document "
                    "transitions are widely available; cross-document ones for ordinary "
                    "multi-page sites are arriving too. A good reminder that a server-"
                    "rendered site can feel as smooth as a single-page app.",
                ),
                (
                    "The Popover API",
                    "https://developer.mozilla.org/en-US/docs/Web/API/Popover_API",
                    "MDN Web Docs",
                    "Menus, tooltips and toasts with a `popover` attribute and a button that "
                    "points at it: focus handling, light dismiss and the top layer come for "
                    "free. I replaced about two hundred lines of dropdown code on a client "
                    "project with six lines of HTML.",
                ),
                (
                    "Interaction to Next Paint",
                    "https://web.dev/articles/inp",
                    "web.dev",
                    "INP replaced First Input Delay as the Core Web Vital for "
                    "responsiveness. It measures every interaction on a page, not just the "
                    "first, so long tasks during a visit finally count against you. If your "
                    "analytics still only report FID, now is the time to switch.",
                ),
                (
                    "Can I use :has()?",
                    "https://caniuse.com/css-has",
                    "Can I use",
                    "The support table for the selector, which tells you the honest answer "
                    "for your audience. Worth bookmarking the whole site if you have not "
                    "already: it is the first tab I open before adopting anything new.",
                ),
            ],
        ),
        (
            "📃 Research & standards",
            "Specs are less scary than they look. These three changed how I build things.",
            [
                (
                    "RFC 8058: signalling one-click unsubscribe",
                    "https://datatracker.ietf.org/doc/html/rfc8058",
                    "IETF",
                    "The short standard behind the unsubscribe button that mail apps show "
                    "next to a sender's name. If you send any kind of newsletter, the large "
                    "mailbox providers now expect it, and this is the clearest explanation "
                    "of why a plain link is not enough.",
                ),
                (
                    "RFC 9110: HTTP semantics",
                    "https://datatracker.ietf.org/doc/html/rfc9110",
                    "IETF",
                    "HTTP's meaning, finally in one document instead of scattered over half "
                    "a dozen. I read the sections on safe and idempotent methods again this "
                    "month, and they explain why a link in an email should never change "
                    "anything on a GET.",
                ),
                (
                    "WCAG 2.2 quick reference",
                    "https://www.w3.org/WAI/WCAG22/quickref/",
                    "W3C WAI",
                    "The filterable version of the accessibility guidelines. The 2.2 "
                    "additions about focus not being hidden and minimum target sizes are the "
                    "ones I see broken most often in audits, and both are cheap to fix when "
                    "you know to look.",
                ),
                (
                    "View transitions explainer",
                    "https://github.com/WICG/view-transitions",
                    "WICG on GitHub",
                    "The design notes behind the API above. Explainers like this one show "
                    "which problems the authors meant to solve and which they left for "
                    "later, and that tells you how far you can lean on a feature today.",
                ),
            ],
        ),
        (
            "📚 Learn",
            "Free courses I recommend to people joining my team.",
            [
                (
                    "Learn CSS",
                    "https://web.dev/learn/css",
                    "web.dev",
                    "A course that starts with the box model and ends with modern layout, "
                    "written by people who work on browsers. Each module stands alone, so "
                    "you can skip to grid or logical properties when you need them.",
                ),
                (
                    "Learn Accessibility",
                    "https://web.dev/learn/accessibility",
                    "web.dev",
                    "A practical tour of accessibility for people who ship features: "
                    "focus, forms, colour contrast, testing with a screen reader. Pair it "
                    "with the WCAG quick reference above and you have a solid checklist.",
                ),
                (
                    "MDN's learning area",
                    "https://developer.mozilla.org/en-US/docs/Learn",
                    "MDN Web Docs",
                    "Structured lessons from the very first HTML page to client-side "
                    "frameworks, with assessments at the end of each module. It is where I "
                    "send anyone who asks me how to start.",
                ),
                (
                    "What's new in Django 5.2",
                    "https://docs.djangoproject.com/en/5.2/releases/5.2/",
                    "Django",
                    "The long-term support release: composite primary keys, automatic model "
                    "imports in the shell and a pile of small comforts. If you maintain a "
                    "Django site this is the version to plan your next upgrade around.",
                ),
            ],
        ),
        (
            "🔧 Tools",
            "",
            [
                (
                    "Analyse runtime performance in Chrome DevTools",
                    "https://developer.chrome.com/docs/devtools/performance",
                    "Chrome for Developers",
                    "A walkthrough of the Performance panel that finally made flame charts "
                    "readable for me. Record a slow interaction, find the long task, and "
                    "follow it down to the function that caused it.",
                ),
                (
                    "Full-text search in PostgreSQL",
                    "https://www.postgresql.org/docs/current/textsearch.html",
                    "PostgreSQL",
                    "Before you add a search service to a small site, read this chapter. "
                    "Ranking, stemming and highlighting are all built in, and a GIN index "
                    "keeps it fast for far more documents than most sites will ever have.",
                ),
            ],
        ),
    ],
}

ISSUE_2 = {
    "number": 2,
    "subject": "Forms that forgive",
    "preheader": "Validation that helps instead of scolds.",
    "intro": (
        "This month is about forms, the part of the web where most people give up. "
        "*(Draft: intro still to write.)*"
    ),
    "sign_off": "",
    "sections": [
        (
            "🛠️ What I made",
            "",
            [
                (
                    "A checklist for humane form errors",
                    "https://notes.example.com/guides/form-errors-checklist",
                    "Field Notes",
                    "Ten questions to ask of every error message before it ships.",
                ),
            ],
        ),
        (
            "🌐 The best from the internet",
            "",
            [
                (
                    "Client-side form validation",
                    "https://developer.mozilla.org/en-US/docs/Learn/Forms/Form_validation",
                    "MDN Web Docs",
                    "What the browser checks for you before a line of script runs.",
                ),
                (
                    "The autocomplete attribute",
                    "https://developer.mozilla.org/en-US/docs/Web/HTML/Attributes/autocomplete",
                    "MDN Web Docs",
                    "",
                ),
            ],
        ),
    ],
}

READERS = [
    ("ada.reader@example.com", "Ada"),
    ("ben.reader@example.com", "Ben"),
    ("chioma.reader@example.com", "Chioma"),
    ("dmitri.reader@example.com", "Dmitri"),
    ("emeka.reader@example.com", "Emeka"),
]


def seed_issue(newsletter: Newsletter, data: dict, **fields) -> Issue:
    """The issue as an editor would have made it: written as a draft, then moved
    to the status in `fields` (a sent issue's content cannot change)."""
    status = fields.pop("status", Issue.Status.DRAFT)
    issue, created = Issue.objects.get_or_create(
        newsletter=newsletter,
        number=data["number"],
        defaults={k: data[k] for k in ("subject", "preheader", "intro", "sign_off")} | fields,
    )
    if not created:
        return issue
    for position, (title, intro, links) in enumerate(data["sections"]):
        section = Section.objects.create(issue=issue, position=position, title=title, intro=intro)
        Link.objects.bulk_create(
            Link(section=section, position=n, title=t, url=u, source=s, commentary=c)
            for n, (t, u, s, c) in enumerate(links)
        )
    if status != issue.status:
        Issue.objects.filter(pk=issue.pk).update(status=status)
        issue.status = status
    return issue


def seed_deliveries(issue: Issue) -> None:
    """The sent issue went to the demo readers, so its sending panel adds up."""
    readers = Subscriber.objects.filter(subscriptions__newsletter=issue.newsletter)
    Delivery.objects.bulk_create(
        (
            Delivery(
                issue=issue, subscriber=s, state=Delivery.State.SENT, batch=1, sent_at=issue.sent_at
            )
            for s in readers
        ),
        ignore_conflicts=True,
    )


def seed_readers(newsletter: Newsletter) -> None:
    now = timezone.now()
    for email, name in READERS:
        subscriber, _ = Subscriber.objects.get_or_create(
            email=email, defaults={"name": name, "consent_at": now, "consent_source": "demo"}
        )
        Subscription.objects.get_or_create(
            subscriber=subscriber,
            newsletter=newsletter,
            defaults={"status": Subscription.Status.CONFIRMED, "confirmed_at": now},
        )


@transaction.atomic
def seed_demo() -> Newsletter:
    newsletter, _ = Newsletter.objects.get_or_create(slug=NEWSLETTER["slug"], defaults=NEWSLETTER)
    sibling, _ = Newsletter.objects.get_or_create(slug=SIBLING["slug"], defaults=SIBLING)
    newsletter.siblings.add(sibling)
    seed_readers(newsletter)
    sent_at = (timezone.now() - timedelta(days=6)).replace(hour=8, minute=0, second=0)
    sent = seed_issue(
        newsletter, ISSUE_1, status=Issue.Status.SENT, send_at=sent_at, sent_at=sent_at
    )
    seed_deliveries(sent)
    # The draft in progress is due on the next cadence date, as drafted issues are.
    seed_issue(newsletter, ISSUE_2, send_at=next_send_at(newsletter, after=timezone.now()))
    return newsletter


class Command(BaseCommand):
    help = "Create a demo newsletter, a sent issue, a draft and five confirmed readers (once)."

    def handle(self, *args, **options):
        newsletter = seed_demo()
        issues = newsletter.issues.count()
        readers = newsletter.subscriptions.filter(status=Subscription.Status.CONFIRMED).count()
        self.stdout.write(f"Demo “{newsletter.name}”: {issues} issues, {readers} readers.")
