"""/api/v1/newsletters, /issues and /inbox: reading what is written, drafting
an issue, and dropping a link into the inbox (filled in from its page by the
worker, as the editor's workbench does)."""

from typing import Annotated

from django.conf import settings
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema

from api import auth, idempotency
from api.paging import DEFAULT_LIMIT, MAX_LIMIT, page
from api.problems import Problem
from api.schemas import (
    Id,
    InboxLinkIn,
    InboxLinkOut,
    IssueIn,
    IssueOut,
    IssueSummary,
    NewsletterOut,
    Slug,
    Text,
)
from api.schemas import Problem as ProblemDoc
from newsletter.curation.filling import fill_later
from newsletter.curation.inbox import checked_url, inbox_add
from newsletter.models import InboxLink, Issue, Link, Newsletter, Section

router = Router(auth=auth.READ)
ERRORS = {code: ProblemDoc for code in (400, 401, 403, 404, 409, 422, 429)}


class Paging(Schema):
    newsletter: Slug | None = None
    cursor: Annotated[Text, Field(max_length=40)] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT


class IssuePaging(Paging):
    status: Issue.Status | None = None


class IssuePage(Schema):
    items: list[IssueSummary]
    next_cursor: str | None


class InboxPage(Schema):
    items: list[InboxLinkOut]
    next_cursor: str | None


# -- newsletters ---------------------------------------------------------------------


@router.get("/newsletters", response={200: list[NewsletterOut], **ERRORS}, tags=["newsletters"])
def newsletter_list(request):
    return Newsletter.objects.order_by("name")


@router.get("/newsletters/{slug}", response={200: NewsletterOut, **ERRORS}, tags=["newsletters"])
def newsletter_read(request, slug: Slug):
    return get_object_or_404(Newsletter, slug=slug)


# -- issues --------------------------------------------------------------------------


def issue_summary(issue: Issue) -> dict:
    return {
        "id": issue.pk,
        "newsletter": issue.newsletter.slug,
        "number": issue.number,
        "subject": issue.subject,
        "status": issue.status,
        "send_at": issue.send_at,
        "sent_at": issue.sent_at,
        "web_url": settings.SITE_URL + issue.get_absolute_url() if issue.is_public else None,
    }


def issue_out(issue: Issue) -> dict:
    sections = issue.sections.order_by("position", "pk").prefetch_related("links")
    return issue_summary(issue) | {
        "preheader": issue.preheader,
        "intro": issue.intro,
        "sign_off": issue.sign_off,
        "sections": [
            {
                "title": section.title,
                "intro": section.intro,
                "position": section.position,
                "links": sorted(
                    (
                        {
                            "url": link.url,
                            "title": link.title,
                            "source": link.source,
                            "commentary": link.commentary,
                            "position": link.position,
                        }
                        for link in section.links.all()
                    ),
                    key=lambda link: link["position"],
                ),
            }
            for section in sections
        ],
    }


@router.get("/issues", response={200: IssuePage, **ERRORS}, tags=["issues"])
def issue_list(request, filters: Query[IssuePaging]):
    found = Issue.objects.select_related("newsletter")
    if filters.newsletter:
        found = found.filter(newsletter__slug=filters.newsletter)
    if filters.status:
        found = found.filter(status=filters.status)
    rows, cursor = page(found, cursor=filters.cursor, limit=filters.limit)
    return {"items": [issue_summary(issue) for issue in rows], "next_cursor": cursor}


@router.get("/issues/{issue_id}", response={200: IssueOut, **ERRORS}, tags=["issues"])
def issue_read(request, issue_id: Id):
    return issue_out(get_object_or_404(Issue.objects.select_related("newsletter"), pk=issue_id))


@router.post("/issues", response={201: IssueOut, **ERRORS}, tags=["issues"], auth=auth.AUTHORING)
def issue_create(request, data: IssueIn):
    """A new draft, numbered after the newsletter's last issue; links without a
    title are filled in from their page by the worker."""
    return idempotency.respond(request, lambda: _draft(data))


def _draft(data: IssueIn) -> tuple[int, dict]:
    newsletter = get_object_or_404(Newsletter, slug=data.newsletter)
    urls = [[checked_url(link.url) for link in section.links] for section in data.sections]
    try:
        with transaction.atomic():
            issue = Issue.objects.create(
                newsletter=newsletter,
                number=newsletter.next_issue_number(),
                subject=data.subject.strip(),
                preheader=data.preheader.strip(),
                intro=data.intro,
                sign_off=data.sign_off,
            )
            for position, (section_in, section_urls) in enumerate(
                zip(data.sections, urls, strict=True), start=1
            ):
                section = Section.objects.create(
                    issue=issue, position=position, title=section_in.title, intro=section_in.intro
                )
                for link_position, (link_in, url) in enumerate(
                    zip(section_in.links, section_urls, strict=True), start=1
                ):
                    link = Link.objects.create(
                        section=section,
                        position=link_position,
                        url=url,
                        title=link_in.title.strip(),
                        commentary=link_in.commentary,
                    )
                    if not link.title:
                        fill_later(link)
    except IntegrityError as exc:  # another issue took the number meanwhile
        raise Problem(409, "Another issue was created at the same moment: try again.") from exc
    body = IssueOut.model_validate(issue_out(issue)).model_dump(mode="json")
    return 201, body


# -- the link inbox ------------------------------------------------------------------


def inbox_out(entry: InboxLink) -> dict:
    return {
        "id": entry.pk,
        "newsletter": entry.newsletter.slug,
        "url": entry.url,
        "note": entry.note,
        "title": entry.title,
        "source": entry.source,
        "summary": entry.summary,
        "page_error": entry.page_error,
        "added_at": entry.added_at,
    }


@router.get("/inbox", response={200: InboxPage, **ERRORS}, tags=["inbox"])
def inbox_list(request, filters: Query[Paging]):
    found = InboxLink.objects.select_related("newsletter")
    if filters.newsletter:
        found = found.filter(newsletter__slug=filters.newsletter)
    rows, cursor = page(found, cursor=filters.cursor, limit=filters.limit)
    return {"items": [inbox_out(entry) for entry in rows], "next_cursor": cursor}


@router.get("/inbox/{entry_id}", response={200: InboxLinkOut, **ERRORS}, tags=["inbox"])
def inbox_read(request, entry_id: Id):
    return inbox_out(get_object_or_404(InboxLink.objects.select_related("newsletter"), pk=entry_id))


@router.post(
    "/inbox",
    response={200: InboxLinkOut, 201: InboxLinkOut, **ERRORS},
    tags=["inbox"],
    auth=auth.AUTHORING,
)
def inbox_create(request, data: InboxLinkIn):
    """Add a link to a newsletter's inbox: 201 for a new page, 200 for one
    already there (the note is added to it). Its title, site and summary are
    filled in from the page by the worker."""
    return idempotency.respond(request, lambda: _inbox_add(request, data))


def _inbox_add(request, data: InboxLinkIn) -> tuple[int, dict]:
    newsletter = get_object_or_404(Newsletter, slug=data.newsletter)
    entry, created = inbox_add(
        newsletter=newsletter, url=data.url, note=data.note, by=request.auth.user
    )
    body = InboxLinkOut.model_validate(inbox_out(entry)).model_dump(mode="json")
    return (201 if created else 200), body
