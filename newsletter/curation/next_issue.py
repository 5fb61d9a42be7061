"""A new issue from the last one: its structure (section titles), its intro and
sign-off as starting text, no links. Fills the empty draft the app made after
the last send (scheduling.draft_next_issue) when there is one, else makes it
(next_draft, which the "best of" draft fills too)."""

from django.core.exceptions import ValidationError
from django.db import transaction

from newsletter import scheduling
from newsletter.models import Issue, Newsletter, Section


def next_draft(newsletter: Newsletter) -> Issue | None:
    """The issue to write next: the newest one while it is an empty draft (as
    the app makes one after each send), else a new draft after it. None for a
    newsletter without issues."""
    newest = newsletter.issues.order_by("-number").first()
    if newest is not None and newest.can("edit") and not newest.sections.exists():
        return newest
    return newest and scheduling.draft_next_issue(issue=newest)


@transaction.atomic
def issue_from_last(*, newsletter: Newsletter) -> Issue:
    draft = next_draft(newsletter)
    if draft is None:
        raise ValidationError(f"{newsletter.name} has no issue to start from yet.")
    last = (
        newsletter.issues.filter(sections__isnull=False, number__lt=draft.number)
        .order_by("-number")
        .first()
    )
    if last is None:
        raise ValidationError(f"{newsletter.name} has no earlier issue with sections.")
    draft.intro = draft.intro or last.intro
    draft.sign_off = draft.sign_off or last.sign_off
    draft.save()
    for position, section in enumerate(last.sections.all(), start=1):
        Section.objects.create(issue=draft, position=position, title=section.title)
    return draft
