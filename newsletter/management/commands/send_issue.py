"""manage.py send_issue ISSUE [--now] [--progress]

ISSUE is an issue id (12) or <newsletter-slug>/<number> (ml-monthly/7).
Without --now the issue is scheduled at its send time; --now starts it at once;
--progress draws a progress bar until the issue is sent, paused or cancelled
(on an issue already going out, it only watches).
"""

import time

from django.core.management.base import BaseCommand, CommandError

from newsletter import sending
from newsletter.models import Issue

WATCH_ONLY = (Issue.Status.SENDING, Issue.Status.PAUSED, Issue.Status.SENT, Issue.Status.CANCELLED)
FINAL = (Issue.Status.SENT, Issue.Status.PAUSED, Issue.Status.CANCELLED)
BAR_WIDTH = 30


def find_issue(ref: str) -> Issue:
    issues = Issue.objects.select_related("newsletter")
    slug, _, number = ref.strip().rpartition("/")
    if not number.isdigit():
        raise CommandError(
            f"“{ref}”: give an issue id (12) or <newsletter-slug>/<number> (news/7)."
        )
    found = (
        issues.filter(newsletter__slug=slug, number=int(number))
        if slug
        else issues.filter(pk=int(number))
    )
    issue = found.first()
    if issue is None:
        raise CommandError(f"No issue “{ref}”.")
    return issue


def bar(progress: sending.Progress) -> str:
    filled = round(BAR_WIDTH * progress.percent / 100)
    counts = progress.counts
    eta = f"ETA {progress.eta:.0f}s" if progress.eta is not None else "ETA –"
    return (
        f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {progress.percent:5.1f}%  "
        f"{counts['sent']:,}/{progress.total:,} sent · {counts['failed']:,} failed · "
        f"{counts['ambiguous']:,} ambiguous · {counts['skipped']:,} skipped · "
        f"{progress.rate:,.0f}/s · {eta} · {progress.status}"
    )


class Command(BaseCommand):
    help = "Schedule an issue at its send time, or send it now (--now); --progress shows a bar."

    def add_arguments(self, parser):
        parser.add_argument("issue", help="An issue id, or <newsletter-slug>/<number>.")
        parser.add_argument("--now", action="store_true", help="Start sending immediately.")
        parser.add_argument(
            "--progress", action="store_true", help="Draw a progress bar until it is done."
        )
        parser.add_argument("--interval", type=float, default=0.5, help="Seconds between redraws.")

    def handle(self, *args, **options):
        issue = find_issue(options["issue"])
        watch_only = options["progress"] and not options["now"] and issue.status in WATCH_ONLY
        if not watch_only:
            self.start(issue, now=options["now"])
        if options["progress"]:
            self.watch(issue, interval=options["interval"])

    def start(self, issue: Issue, *, now: bool) -> None:
        readers = sending.recipient_count(issue.newsletter)
        try:
            if now:
                sending.issue_send_now(issue=issue)
                self.stdout.write(f"Sending {issue} to {readers:,} readers.")
                return
            if issue.send_at is None:
                raise CommandError(
                    f"Issue #{issue.number} has no send time: set one in the admin, or use --now."
                )
            sending.issue_schedule(issue=issue, send_at=issue.send_at)
        except sending.SendingError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Scheduled {issue} for {issue.send_at:%Y-%m-%d %H:%M} UTC.")

    def watch(self, issue: Issue, *, interval: float) -> None:
        """Redraw in place on a terminal; elsewhere (logs, CI) a line per percent."""
        tty = self.stdout.isatty()
        shown = None
        while True:
            progress = sending.issue_progress(issue=issue)
            done = progress.status in FINAL
            if tty:
                self.stdout.write("\r" + bar(progress), ending="\n" if done else "")
                self.stdout.flush()
            elif done or (progress.status, int(progress.percent)) != shown:
                self.stdout.write(bar(progress))
                shown = (progress.status, int(progress.percent))
            if done:
                return
            time.sleep(interval)
