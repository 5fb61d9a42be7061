"""Every type of email passes what mailbox providers and mail clients check
before a reader sees it: SpamAssassin's shipped rules and the official MJML
compiler's strict validation. Both tools run for real, on the messages the
send path makes (tests/every_email.py)."""

import mailbox
import re
import shutil
import subprocess
from unittest import mock

import pytest

import mail.rendering
from subscribers import emails as subscriber_emails
from subscribers.models import Subscriber
from tests.every_email import READER, every_email
from tests.helpers import ROOT, tool_missing

pytestmark = pytest.mark.django_db

MJML = ROOT / "node_modules" / ".bin" / "mjml"
SCORE = re.compile(r"Content analysis details:\s+\((-?[\d.]+) points")
RULE = re.compile(r"^\s*(-?\d+\.\d+)\s+([A-Z0-9_]+)\s", re.M)


def spam_reports(messages: list, folder) -> list[tuple[float, list[str]]]:
    """SpamAssassin's local rules (-L: no network tests) on the messages as sent,
    in one run over an mbox: each one's score and the rules that added to it."""
    box = mailbox.mbox(folder / "sent.mbox")
    for message in messages:
        box.add(message.message().as_bytes())
    box.flush()
    with open(folder / "sent.mbox", "rb") as sent:
        output = subprocess.run(
            ["spamassassin", "-L", "-t", "--mbox"], stdin=sent, capture_output=True, timeout=120
        ).stdout.decode(errors="replace")
    reports = SCORE.split(output)[1:]  # score, the report after it, score, ...
    assert len(reports) == 2 * len(messages), output[-2000:]
    return [
        (float(score), [f"{rule} {p}" for p, rule in RULE.findall(report) if float(p) > 0])
        for score, report in zip(reports[::2], reports[1::2], strict=True)
    ]


def test_every_email_scores_nothing_with_spamassassin(tmp_path):
    if not shutil.which("spamassassin"):
        tool_missing("spamassassin is not installed (apt-get install spamassassin)")
    emails = every_email()
    reports = spam_reports(list(emails.values()), tmp_path)
    for kind, (score, scored) in zip(emails, reports, strict=True):
        # Precedence: bulk with List-Id earns the issues -1.0 (MAILING_LIST_MULTI).
        assert score <= 0.0 and not scored, f"{kind}: {score} points from {scored}"


def test_every_template_passes_mjml_strict_validation(tmp_path):
    if not shutil.which("node") or not MJML.exists():
        tool_missing("the MJML compiler needs node and npm (make test runs npm install)")
    sources = []
    real = mail.rendering.mjml2html

    def keep(source: str) -> str:  # the real compiler still renders every email
        sources.append(source)
        return real(source)

    with mock.patch.object(mail.rendering, "mjml2html", keep):
        every_email()
        subscriber = Subscriber.objects.get(email=READER)
        for purpose in subscriber_emails.READER_LINK_SUBJECTS:
            subscriber_emails.send_reader_link(subscriber, purpose)
    assert len(sources) == 9  # six types, and the three reader links
    files = []
    for n, source in enumerate(sources):
        files.append(tmp_path / f"{n}.mjml")
        files[-1].write_text(source)
    result = subprocess.run(
        [str(MJML), "--config.validationLevel=strict", "-s", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
