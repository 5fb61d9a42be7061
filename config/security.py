"""Content-Security-Policy for the public pages.

Public pages are server-rendered with no JavaScript, so the policy can be
strict. The admin (Django's own scripts, email previews in srcdoc iframes) gets
the looser policy it needs.
"""

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
