"""manage.py check_issue ISSUE [--strict]

The pre-flight of an issue (newsletter.curation.preflight), its link checks
run here and now: each finding with its place. Exits 1 when a blocker would
refuse the send (with --strict, a warning too), 2 when there is no such issue.
ISSUE is an issue id (12) or <newsletter-slug>/<number> (ml-monthly/7).
"""

from django.core.management.base import BaseCommand, CommandError

from newsletter.curation.preflight import preflight
from newsletter.management.commands.send_issue import find_issue


class Command(BaseCommand):
    help = "Check an issue before sending: blockers and warnings, links included."

    def add_arguments(self, parser):
        parser.add_argument("issue", help="An issue id, or <newsletter-slug>/<number>.")
        parser.add_argument("--strict", action="store_true", help="Exit 1 on a warning too.")

    def handle(self, *args, **options):
        try:
            issue = find_issue(options["issue"])
        except CommandError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        report = preflight(issue, run_link_checks=True)
        self.stdout.write(f"{issue}")
        for finding in report.findings:
            label = "BLOCKER" if finding in report.blockers else "warning"
            self.stdout.write(f"  {label}  {finding}")
        blockers, warnings = len(report.blockers), len(report.warnings)
        summary = (
            f"{blockers} blocker{'s' * (blockers != 1)}, {warnings} warning{'s' * (warnings != 1)}"
        )
        if blockers or (warnings and options["strict"]):
            raise CommandError(f"{summary}: not ready to send.", returncode=1)
        self.stdout.write(f"{summary}: ready to send.")
