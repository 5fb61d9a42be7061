"""Reader-facing engagement links: tracked clicks (/l/) and feedback answers (/f/).
Thin: the work is in newsletter.engagement.clicks and .feedback."""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from mail.languages import speaking
from newsletter.engagement import feedback as reader_feedback
from newsletter.engagement.clicks import record_click


def bad_link(request: HttpRequest) -> HttpResponse:
    """Forged, altered or cut short: the site's own "this link does not work" page."""
    return render(request, "subscribers/bad_link.html", status=404)


@never_cache
@require_http_methods(["GET", "HEAD"])
def click(request: HttpRequest, link_token: str, recipient_key: str | None = None) -> HttpResponse:
    # A HEAD is a link checker or previewer asking where the link goes: a scanner's.
    url = record_click(
        link_token,
        recipient_key,
        head=request.method == "HEAD",
        user_agent=request.headers.get("User-Agent", "")[:500],
    )
    if url is None:
        return bad_link(request)
    # The stored URL only, never one taken from the request: no open redirect.
    return HttpResponseRedirect(url)


# The answer is bound to a signed per-reader key; a cookie-less POST from any
# mail client's browser must work, so no CSRF cookie is asked for.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def feedback(request: HttpRequest, recipient_key: str, answer: str) -> HttpResponse:
    delivery = reader_feedback.delivery_for(recipient_key)
    if delivery is None or answer not in reader_feedback.ANSWERS.values:
        return bad_link(request)
    ctx = {
        "issue": delivery.issue,
        "newsletter": delivery.issue.newsletter,
        "accent": delivery.issue.newsletter.accent_colour,
        "answer": reader_feedback.ANSWERS(answer),
    }
    # A GET only shows the button: mail scanners follow links.
    if request.method == "POST":
        reader_feedback.record_feedback(delivery, answer)
        ctx["recorded"] = True
    with speaking(delivery.issue.newsletter):
        return render(request, "newsletter/feedback.html", ctx)
