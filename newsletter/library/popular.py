"""The links readers clicked most in a year: readers' clicks only, as the
issue stats count them (newsletter.engagement.clicks sets scanners' and
link previewers' clicks apart), on the links' titles in the emails. Read
from the sent issues themselves, so the editor's "best of" draft works for a
newsletter without a public archive too."""

from django.db.models import Count

from newsletter.library.index import year_of
from newsletter.models import Click, Issue, Link, Newsletter

HUMAN = Click.Kind.HUMAN


def sent_issues_by_year(newsletter: Newsletter) -> dict[int, list[int]]:
    """The ids of the newsletter's sent issues, by the year of their date, newest year first."""
    issues = Issue.objects.filter(newsletter=newsletter, status=Issue.Status.SENT).only(
        "started_at", "sent_at", "send_at", "created"
    )
    by_year: dict[int, list[int]] = {}
    for issue in issues:
        by_year.setdefault(year_of(issue, newsletter), []).append(issue.pk)
    return dict(sorted(by_year.items(), reverse=True))


def _readers_clicks(issue_ids: list[int]):
    return Click.objects.filter(kind=HUMAN, link__section__issue__in=issue_ids)


def most_clicked(
    newsletter: Newsletter, year: int, *, limit: int = 25, by_year: dict | None = None
) -> list[Link]:
    """The year's links with readers' clicks, most first (the newest link first
    among equals); each has .clicks_count."""
    issue_ids = (by_year or sent_issues_by_year(newsletter)).get(year, [])
    # Counted per link id alone: grouping the links' own rows would sort their text.
    counts = (
        _readers_clicks(issue_ids).values("link").annotate(n=Count("id")).order_by("-n", "-link")
    )[:limit]
    counted = {row["link"]: row["n"] for row in counts}
    links = Link.objects.select_related("section__issue").in_bulk(counted)
    for link_id, clicks in counted.items():
        links[link_id].clicks_count = clicks
    return [links[link_id] for link_id in counted]


def latest_clicked_year(newsletter: Newsletter, by_year: dict | None = None) -> int | None:
    """The newest year whose sent issues have readers' clicks; None without any."""
    by_year = by_year or sent_issues_by_year(newsletter)
    return next((y for y, ids in by_year.items() if _readers_clicks(ids).exists()), None)
