"""Which language a reader is spoken to in, around the editor's own words.

A newsletter picks one (Newsletter.language): its signup and confirmation
pages, its emails' frames and footers, its unsubscribe and preferences pages
and its dates speak it, whatever the reader's browser asks for. What knows no
newsletter (the list of newsletters, a link that names nothing) speaks the
site's language, LANGUAGE_CODE. The editor's own text (names, subjects,
commentary) is never translated.

Views and the workers that build emails render inside speaking(newsletter);
this is the one place that decides which language that is.
"""

from django.conf import settings
from django.utils import translation


def reader_language(newsletter=None) -> str:
    """The language of `newsletter`'s reader-facing pages and emails; the site's without one."""
    language = getattr(newsletter, "language", "")
    if language in dict(settings.LANGUAGES):
        return language
    return settings.LANGUAGE_CODE


def speaking(newsletter=None) -> translation.override:
    """Everything rendered inside speaks `newsletter`'s language (see reader_language)."""
    return translation.override(reader_language(newsletter))
