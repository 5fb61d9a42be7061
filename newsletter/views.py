from email import policy
from email.parser import BytesParser
from pathlib import Path

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render


def archive_index(request: HttpRequest) -> HttpResponse:
    raise Http404  # built with the archive


def archive_newsletter(request: HttpRequest, newsletter_slug: str) -> HttpResponse:
    raise Http404


def issue_web(request: HttpRequest, newsletter_slug: str, issue_slug: str) -> HttpResponse:
    raise Http404


class IssueFeed(Feed):
    def get_object(self, request, newsletter_slug):
        raise Http404


def _outbox_files() -> list[Path]:
    folder = Path(settings.OUTBOX_DIR)
    return sorted(folder.glob("*.eml"), reverse=True) if folder.exists() else []


def outbox(request: HttpRequest) -> HttpResponse:
    """The embedded default's inbox view: what would have been sent."""
    if not settings.DEBUG:
        raise Http404
    parser = BytesParser(policy=policy.default)
    messages = []
    for path in _outbox_files()[:200]:
        with path.open("rb") as fh:
            headers = parser.parse(fh, headersonly=True)
        messages.append(
            {
                "name": path.name,
                "to": headers["To"],
                "subject": headers["Subject"],
                "date": headers["Date"],
            }
        )
    return render(request, "outbox.html", {"messages": messages})


def outbox_message(request: HttpRequest, name: str) -> HttpResponse:
    if not settings.DEBUG:
        raise Http404
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
            "headers": list(message.items()),
            "html": html.get_content() if html else "",
            "text": text.get_content() if text else "",
        },
    )
