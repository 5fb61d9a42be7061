"""The one newsletter builder the test helpers share."""

from newsletter.models import Newsletter

DEFAULTS = {
    "name": "ML Monthly",
    "sender_name": "Ada",
    "sender_email": "ada@example.com",
    "postal_address": "1 Example Street, Springfield",
    "send_rate": 100_000,
    "time_zone": "Europe/London",
}


def make_newsletter(slug: str = "ml-monthly", **fields) -> Newsletter:
    return Newsletter.objects.create(slug=slug, **{**DEFAULTS, **fields})
