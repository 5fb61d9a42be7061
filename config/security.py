"""Content-Security-Policy for the public pages, form bodies in a charset
Django can read, and requests Django cannot even build answered with a 400.

Public pages are server-rendered with no JavaScript, so the policy can be
strict. The admin (Django's own scripts, email previews in srcdoc iframes) gets
the looser policy it needs.
"""

import codecs

from django.core.exceptions import SuspiciousOperation
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.http import HttpResponse

PUBLIC = (
    "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'; object-src 'none'"
)
ADMIN = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; frame-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'; object-src 'none'"
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            staff_area = request.path.startswith(("/admin/", "/_nested_admin/", "/outbox/"))
            response["Content-Security-Policy"] = ADMIN if staff_area else PUBLIC
        return response


def readable_charset(charset: str) -> bool:
    """A charset that reads a URL-encoded form as ASCII does (UTF-8, Latin-1 ...);
    UTF-16 or UTF-32 would turn the body into nonsense or an error."""
    try:
        codecs.lookup(charset)
    except LookupError:
        return False
    probe = "email=a%40b.c&name=x"
    try:
        return probe.encode(charset) == probe.encode("ascii")
    except (UnicodeError, LookupError):
        return False


def form_charset_problem(content_type: str, charset: str | None) -> bool:
    """Would Django fail to read this form body into request.POST?

    A URL-encoded form has no charset but UTF-8 (Django refuses any other with
    an error that its own error pages hit again, which ends in a 500); a
    multipart form's fields are decoded with the charset it declares.
    """
    if not charset:
        return False
    if content_type == "application/x-www-form-urlencoded":
        return charset.lower() != "utf-8"
    if content_type == "multipart/form-data":
        return not readable_charset(charset)
    return False


class FormCharsetMiddleware:
    """A form declared in a charset Django cannot read it in gets a 400 and a
    reason, before anything (the CSRF check, a view, an error page) reads
    request.POST."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        charset = (request.content_params or {}).get("charset")
        if form_charset_problem(request.content_type, charset):
            return HttpResponse(
                f"Unsupported charset “{charset[:40]}”: send forms as UTF-8.\n",
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


class Request(WSGIRequest):
    """Django reads the query string while it builds a request that declares a
    charset; over DATA_UPLOAD_MAX_NUMBER_FIELDS fields that raises before any
    middleware runs, and the server answers 500. Here the request is built all
    the same: the same error comes again when the query is read, inside the
    handler, which answers 400."""

    def _set_content_type_params(self, meta):
        try:
            super()._set_content_type_params(meta)
        except SuspiciousOperation:
            pass


class Handler(WSGIHandler):
    request_class = Request
