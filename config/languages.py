"""Which language a request starts in: the admin follows the editor's browser
(Django's own words in it: "Save", "Log in", month names, where Django has
that language); every other page starts in the site's, LANGUAGE_CODE, and a
reader's page then speaks its newsletter's (mail.languages), never the
browser's.

Set for every request, and put back as it was after it, so a language one
request chose never lingers in the thread: not for the next request, nor for
what runs there after it (a test, a task run inline).
"""

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

# Where editors work; the outbox (DEBUG only) shows readers' emails as they are.
ADMIN_PATHS = ("/admin/", "/_nested_admin/")


def is_admin(request) -> bool:
    return request.path_info.startswith(ADMIN_PATHS)


class AdminLocaleMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware (Accept-Language, the language cookie) for the
    admin only."""

    def __call__(self, request):
        before = translation.get_language()
        try:
            return super().__call__(request)
        finally:
            translation.activate(before)

    def process_request(self, request):
        if is_admin(request):
            return super().process_request(request)
        translation.activate(settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = settings.LANGUAGE_CODE
        return None

    def process_response(self, request, response):
        if is_admin(request):
            return super().process_response(request, response)
        return response
