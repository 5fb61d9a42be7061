"""Content-Security-Policy for the public pages, and form bodies in a charset
Django can read.

Public pages are server-rendered with no JavaScript, so the policy can be
strict. The admin (Django's own scripts, email previews in srcdoc iframes) gets
the looser policy it needs.
"""

import codecs

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


# The bodies Django decodes into request.POST with the declared charset.
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class FormCharsetMiddleware:
    """A form declared in a charset no form is sent in gets a 400 and a reason,
    before anything reads request.POST (which would fail with a 500)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        charset = (request.content_params or {}).get("charset")
        if request.content_type in FORMS and charset and not readable_charset(charset):
            return HttpResponse(
                f"Unsupported charset “{charset[:40]}”: send forms as UTF-8.\n",
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)
