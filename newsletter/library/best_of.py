"""A "best of YEAR" issue, drafted from the year's most-clicked links
(newsletter.library.popular: readers' clicks only): an ordinary draft for the
editor to rewrite, cut and send like any other. It fills the empty draft the
app made after the last send when there is one (curation.next_issue), in the
newsletter's language, keeping a subject or intro the editor wrote there."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from mail.languages import speaking
from newsletter.curation.next_issue import next_draft
from newsletter.library.popular import most_clicked
from newsletter.models import Issue, Link, Newsletter, Section

PICKS = 10


@transaction.atomic
def draft_best_of(*, newsletter: Newsletter, year: int, picks: int = PICKS) -> Issue:
    """The draft, with one section of the year's `picks` most-clicked links in
    click order, each with its title, source and commentary; ValidationError,
    and nothing made, when no reader clicked a link of that year."""
    links = most_clicked(newsletter, year, limit=picks)
    if not links:
        raise ValidationError(
            _("No reader clicked a link of %(year)s's issues: there is nothing to pick from.")
            % {"year": year}
        )
    draft = next_draft(newsletter)
    if draft is None:  # its number was drafted meanwhile, by someone else
        raise ValidationError(_("Another draft was made just now: try again."))
    with speaking(newsletter):
        if draft.subject in ("", draft.placeholder_subject()):  # an editor's own stays
            draft.subject = _("The best of %(year)s") % {"year": year}
        draft.intro = draft.intro or _(
            "A look back at %(year)s: the links readers of %(name)s opened most, in order."
        ) % {"year": year, "name": newsletter.name}
        title = _("Most clicked in %(year)s") % {"year": year}
    draft.save()
    section = Section.objects.create(issue=draft, position=1, title=title)
    for position, link in enumerate(links, start=1):
        Link.objects.create(
            section=section,
            position=position,
            title=link.title,
            url=link.url,
            source=link.source,
            commentary=link.commentary,
            summary=link.summary,
        )
    return draft
