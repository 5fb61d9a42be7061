"""The links readers clicked most in a year: readers' clicks only, as the
issue stats count them (newsletter.engagement.clicks sets scanners' and
link previewers' clicks apart), on the links' titles in the emails. Read
from the sent issues themselves, so the editor's "best of" draft works for a
newsletter without a public archive too."""

from django.db.models import Count, Q

from newsletter.library.index import year_of
from newsletter.models import Click, Issue, Link, Newsletter

HUMAN = Click.Kind.HUMAN


def sent_issues_by_year(newsletter: Newsletter) -> dict[int, list[int]]:
    """The ids of the newsletter's sent issues, by the year of their date, newest year first."""
    issues = newsletter.issues.filter(status=Issue.Status.SENT).only(
        "started_at", "sent_at", "send_at", "created"
    )
    by_year: dict[int, list[int]] = {}
    for issue in issues:
        by_year.setdefault(year_of(issue, newsletter), []).append(issue.pk)
    return dict(sorted(by_year.items(), reverse=True))


def most_clicked(newsletter: Newsletter, year: int, *, limit: int = 25) -> list[Link]:
    """The year's links with readers' clicks, most first; each has .clicks_count."""
    issue_ids = sent_issues_by_year(newsletter).get(year, [])
    clicked = (
        Link.objects.filter(section__issue__in=issue_ids)
        .annotate(clicks_count=Count("clicks", filter=Q(clicks__kind=HUMAN)))
        .filter(clicks_count__gt=0)
        .select_related("section__issue")
        .order_by("-clicks_count", "-section__issue__number", "section__position", "position", "pk")
    )
    return list(clicked[:limit])


def clicked_years(newsletter: Newsletter) -> list[int]:
    """The years whose sent issues have readers' clicks, newest first."""
    return [
        year
        for year, issue_ids in sent_issues_by_year(newsletter).items()
        if Click.objects.filter(kind=HUMAN, link__section__issue__in=issue_ids).exists()
    ]
