"""The embedded default's ESP: every message becomes one .eml file under
var/outbox/, which the app lists at /outbox/ while DEBUG is on, to staff who
may see the readers (the emails hold their addresses and working tokens)."""

import uuid
from email import policy
from email.parser import BytesParser
from pathlib import Path

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.core.mail.backends.base import BaseEmailBackend
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


class OutboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        folder = Path(settings.OUTBOX_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
            message_id = f"{stamp}-{uuid.uuid4().hex[:8]}"
            path = folder / f"{message_id}.eml"
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(message.message().as_bytes(linesep="\r\n"))
            tmp.rename(path)
            message.outbox_id = message_id
            sent += 1
        return sent


def _outbox_files() -> list[Path]:
    folder = Path(settings.OUTBOX_DIR)
    return sorted(folder.glob("*.eml"), reverse=True) if folder.exists() else []


# The emails carry readers' addresses and working links: who may see the readers.
READERS_PERMISSION = "subscribers.view_subscriber"


def development_staff_only(view):
    """404 unless DEBUG is on; then the admin's login for anyone but staff, and
    403 for staff who may not see the readers."""

    def permitted(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.has_perm(READERS_PERMISSION):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    staff_view = staff_member_required(permitted)

    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not settings.DEBUG:
            raise Http404
        return staff_view(request, *args, **kwargs)

    return guarded


@development_staff_only
def outbox(request: HttpRequest) -> HttpResponse:
    """The embedded default's inbox view: what would have been sent."""
    parser = BytesParser(policy=policy.default)
    emails = []
    for path in _outbox_files()[:200]:
        with path.open("rb") as fh:
            headers = parser.parse(fh, headersonly=True)
        emails.append(
            {
                "name": path.name,
                "to": headers["To"],
                "subject": headers["Subject"],
                "date": headers["Date"],
            }
        )
    # Not "messages": that name belongs to django.contrib.messages in templates.
    return render(request, "outbox.html", {"emails": emails})


ENVELOPE = ("From", "To", "Reply-To", "Date")


@development_staff_only
def outbox_message(request: HttpRequest, name: str) -> HttpResponse:
    path = Path(settings.OUTBOX_DIR) / Path(name).name
    if path.suffix != ".eml" or not path.is_file():
        raise Http404
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    html = message.get_body(preferencelist=("html",))
    text = message.get_body(preferencelist=("plain",))
    return render(
        request,
        "outbox_message.html",
        {
            "name": path.name,
            "subject": message["Subject"] or "(no subject)",
            # What a mail client shows first; every header is below, folded.
            "envelope": [(key, message[key]) for key in ENVELOPE if message[key]],
            "headers": list(message.items()),
            "html": html.get_content() if html else "",
            "text": text.get_content() if text else "",
        },
    )
