"""The pre-flight: what is wrong with an issue before it goes to every reader.

Blockers refuse send and schedule, from the admin, `send_issue` and the beat
alike (newsletter.sending.lifecycle asks blockers()); warnings are shown to
the editor, who sends anyway or not. Each finding says where it is
("Section 2 'Research' → link 3"). The same check is shown on the preview, on
the send/schedule confirmation and by `manage.py check_issue`.

Link checks are slow (a server may take 5 s): the pages ask a worker for them
and show what has come back (newsletter.curation.link_checks); the command
runs them itself.
"""

from dataclasses import dataclass, field

from mail.links import site_url_refusal
from mail.rendering import RenderError
from mail.text import markdown_links
from newsletter.curation import link_checks
from newsletter.curation.urls import canonical_url
from newsletter.emails import sent_html_bytes
from newsletter.models import Issue, Link, LinkCheck
from newsletter.rendering import GMAIL_CLIP_BYTES, link_place, render_issue, section_place

BLOCKER = "blocker"
WARNING = "warning"

Outcome = LinkCheck.Outcome


@dataclass(frozen=True)
class Finding:
    level: str  # BLOCKER or WARNING
    message: str
    place: str = ""  # "" for the issue as a whole

    def __str__(self) -> str:
        return f"{self.place}: {self.message}" if self.place else self.message


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    checking: int = 0  # links whose check has not answered yet

    @property
    def blockers(self) -> list[Finding]:
        return [f for f in self.findings if f.level == BLOCKER]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == WARNING]


@dataclass(frozen=True)
class Place:
    """A link card or a piece of Markdown, and where it is."""

    where: str
    urls: tuple[str, ...]
    link: Link | None = None  # a link card


def places(issue: Issue) -> list[Place]:
    """Every URL of the issue with where it is: link cards and links inside Markdown."""
    found = [Place("Intro", tuple(markdown_links(issue.intro)))]
    for s, section in enumerate(issue.sections.prefetch_related("links"), start=1):
        where = section_place(section, s)
        found.append(Place(f"{where} → intro", tuple(markdown_links(section.intro))))
        for n, link in enumerate(section.links.all(), start=1):
            at = link_place(where, n)
            found.append(Place(at, (link.url,), link))
            found.append(Place(f"{at} → commentary", tuple(markdown_links(link.commentary))))
    found.append(Place("Sign-off", tuple(markdown_links(issue.sign_off))))
    return found


def issue_urls(issue: Issue) -> list[str]:
    return list(dict.fromkeys(url for place in places(issue) for url in place.urls))


# -- Blockers ---------------------------------------------------------------------


def blockers(issue: Issue) -> list[Finding]:
    """What must be put right before the issue may be sent or scheduled."""
    found = []
    refusal = site_url_refusal()
    if refusal:
        found.append(Finding(BLOCKER, refusal))
    if not issue.sections.exists():
        found.append(Finding(BLOCKER, "The issue has no sections."))
    elif not Link.objects.filter(section__issue=issue).exists():
        found.append(Finding(BLOCKER, "The issue has no links."))
    if issue.auto_drafted and issue.subject == issue.placeholder_subject():
        message = f"still the automatic draft's “{issue.subject}”: write the one readers will see."
        found.append(Finding(BLOCKER, message, "Subject"))
    try:
        rendered = render_issue(issue)
    except RenderError as exc:
        found.append(Finding(BLOCKER, f"The issue does not render: {exc}"))
        return found
    size = sent_html_bytes(issue, rendered)
    if size > GMAIL_CLIP_BYTES:
        message = (
            f"The email is {size / 1000:.1f} kB with a reader's own links; Gmail clips "
            f"anything over {GMAIL_CLIP_BYTES / 1000:.0f} kB and hides the rest, "
            "the unsubscribe link included. Trim commentary or move links to the next issue."
        )
        found.append(Finding(BLOCKER, message))
    return found


# -- Warnings ---------------------------------------------------------------------


def _link_finding(url: str, check: LinkCheck, where: str) -> Finding | None:
    if check.outcome == Outcome.NOT_PUBLIC:
        message = f"{url} was not checked: not a public address ({check.reason})."
    elif check.outcome == Outcome.DEAD and check.final_url:
        message = f"{url} redirects to {check.final_url}, which looks dead: {check.reason}."
    elif check.outcome == Outcome.DEAD:
        message = f"{url} looks dead: {check.reason}."
    elif check.outcome == Outcome.REDIRECT:
        message = f"{url} redirects to {check.final_url}."
    else:
        return None
    return Finding(WARNING, message, where)


def featured_before(issue: Issue) -> dict[str, list[Issue]]:
    """Canonical URL → the issues of this newsletter that went out with it, latest first."""
    earlier = (
        Link.objects.filter(
            section__issue__newsletter=issue.newsletter_id,
            section__issue__status__in=Issue.PUBLIC_STATUSES,
        )
        .exclude(section__issue=issue.pk)
        .select_related("section__issue__newsletter")
        .order_by("-section__issue__number")
    )
    found: dict[str, list[Issue]] = {}
    for link in earlier:
        issues = found.setdefault(canonical_url(link.url), [])
        if link.section.issue not in issues:
            issues.append(link.section.issue)
    return found


def _featured_finding(url: str, issues: list[Issue], where: str) -> Finding:
    named = ", ".join(
        f"#{i.number} “{i.subject}”" + (f" ({i.date_text})" if i.date else "") for i in issues[:3]
    )
    return Finding(WARNING, f"{url} was already featured in {named}.", where)


def warnings(issue: Issue, checks: dict[str, LinkCheck]) -> list[Finding]:
    """What the editor should look at: `checks` are the link checks that have answered."""
    found = []
    if not issue.preheader.strip():
        message = "empty: inboxes will show the start of the email instead."
        found.append(Finding(WARNING, message, "Preheader"))
    if issue.test_digest != issue.content_digest():
        message = "No test sent since the last edit." if issue.test_sent_at else "No test sent yet."
        found.append(Finding(WARNING, message))
    featured = featured_before(issue)
    for place in places(issue):
        if place.link is not None and not place.link.commentary.strip():
            found.append(Finding(WARNING, "has no commentary.", place.where))
        for url in place.urls:
            check = checks.get(url)
            finding = check and _link_finding(url, check, place.where)
            if finding:
                found.append(finding)
            if canonical_url(url) in featured:
                found.append(_featured_finding(url, featured[canonical_url(url)], place.where))
    return found


# -- The whole check --------------------------------------------------------------


def request_link_checks(issue: Issue) -> set[str]:
    """Have a worker check the issue's links that have no answer of the last
    hour; the URLs still being checked."""
    return link_checks.request_checks(issue_urls(issue))


def preflight(issue: Issue, *, run_link_checks: bool = False) -> Report:
    """Blockers and warnings. Link checks are asked of a worker and those that
    have answered are used (the pages); with run_link_checks, done here first (the command)."""
    urls = issue_urls(issue)
    if run_link_checks:
        checks, checking = link_checks.check_urls(urls), set()
    else:
        checking = request_link_checks(issue)
        checks = link_checks.fresh_results(urls)
    return Report(blockers(issue) + warnings(issue, checks), checking=len(checking))
