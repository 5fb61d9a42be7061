from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils.translation import gettext_lazy as _

from config.celery import app as celery_app
from mail.languages import speaking
from newsletter.models import Newsletter


def home(request: HttpRequest) -> HttpResponse:
    return redirect("signup_index")


# Where crawlers have no business: the pages behind a reader's signed link
# (confirm, unsubscribe, preferences, their data), the click and feedback
# links of the emails, the staff's pages and the machines' endpoints.
# tests/test_robots.py holds every such route of the URL conf to this list.
KEEP_CRAWLERS_OUT = [
    "/confirm/",
    "/unsubscribe/",
    "/preferences/",
    "/my-data/",
    "/erase/",
    "/l/",
    "/f/",
    "/admin/",
    "/_nested_admin/",
    "/outbox/",
    "/api/",
    "/anymail/",
    "/healthz",
]


def robots_txt(request: HttpRequest) -> HttpResponse:
    """The archive open to crawlers, readers' and staff pages closed, and where the sitemap is."""
    lines = ["User-agent: *", "Allow: /archive/"]
    lines += [f"Disallow: {prefix}" for prefix in KEEP_CRAWLERS_OUT]
    lines += ["", f"Sitemap: {settings.SITE_URL}{reverse('sitemap')}"]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def _broker_ok() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        return False


def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    failing = [name for name, ok in checks.items() if not ok]
    body = {name: ("ok" if ok else "unreachable") for name, ok in checks.items()}
    body["status"] = "ok" if not failing else f"{', '.join(failing)} unreachable"
    return JsonResponse(body, status=503 if failing else 200)


# -- Error pages ---------------------------------------------------------------
# Django's own are wrapped in the CSRF middleware, which reads the request's
# form body: a body that cannot be read (a multipart form without a boundary, a
# form in another charset) then fails inside the error page itself and becomes
# a 500. These never read the body; none of them has a form.

ERRORS = {
    400: (_("Bad request"), _("The request could not be read. Nothing has been changed.")),
    403: (
        _("Not allowed"),
        _("This page cannot be opened this way. Nothing has been changed."),
    ),
    404: (_("Page not found"), _("There is nothing at this address.")),
    500: (
        _("Something went wrong"),
        _("An error on our side stopped this page. Please try again."),
    ),
}


def _error(request: HttpRequest, status: int) -> HttpResponse:
    title, message = ERRORS[status]
    # A 500 asks nothing more of the database, which may be what failed.
    newsletter = None if status == 500 else _newsletter_named_by(request)
    with speaking(newsletter):
        context = {"title": title, "message": message}
        return render(request, "error.html", context, status=status)


def _newsletter_named_by(request: HttpRequest) -> Newsletter | None:
    """The newsletter whose address this is (/subscribe/<slug>/…, /archive/<slug>/…),
    so that its readers' error pages speak its language."""
    try:
        slug = resolve(request.path_info).kwargs.get("newsletter_slug")
    except Resolver404:
        return None
    if not slug:
        return None
    try:
        return Newsletter.objects.filter(slug=slug).first()
    except DatabaseError:
        return None


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    return _error(request, 400)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return _error(request, 403)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return _error(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    return _error(request, 500)
