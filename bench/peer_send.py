"""The peer: django-newsletter sending one issue with its own submission mechanism.

Runs in django-newsletter's own virtualenv (bench/.peer-venv), started by
bench/send_throughput.py, which writes the settings module (bench/.peer-venv/site)
with email through anymail's Mailgun backend at the same fake ESP. Loads the
readers and the issue into its own PostgreSQL database, then times
`manage.py submit_newsletter` (Submission.submit_queue → Submission.submit: one
rendered message per reader, sent one by one). Prints one JSON line.

Not run on its own: see bench/send_throughput.py.
"""

import argparse
import json
import os
import sys
import time


def load(subscribers: list[str], issue: dict) -> None:
    from django.contrib.sites.models import Site
    from newsletter.utils import make_activation_code

    from newsletter.models import Article, Message, Newsletter, Submission, Subscription

    site = Site.objects.get_current()
    newsletter = Newsletter.objects.create(
        title=issue["newsletter"], slug="bench", email=issue["sender_email"], sender="Bench"
    )
    newsletter.site.set([site])
    message = Message.objects.create(title=issue["subject"], slug="bench", newsletter=newsletter)
    for n, link in enumerate(issue["links"], start=1):
        Article.objects.create(
            post=message, sortorder=n * 10, title=link["title"], text=link["text"], url=link["url"]
        )
    Subscription.objects.bulk_create(
        [
            Subscription(
                newsletter=newsletter,
                email_field=email,
                subscribed=True,
                activation_code=make_activation_code(),
            )
            for email in subscribers
        ],
        batch_size=5000,
    )
    submission = Submission.from_message(message, site=site)
    Submission.objects.filter(pk=submission.pk).update(prepared=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--issue", required=True, help="JSON file: the issue and the readers")
    args = parser.parse_args()
    with open(args.issue) as f:
        data = json.load(f)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    load(data["subscribers"], data["issue"])
    started = time.monotonic()
    call_command("submit_newsletter", verbosity=0)
    finished = time.monotonic()
    from newsletter.models import Submission

    sent = Submission.objects.filter(sent=True).count()
    print(json.dumps({"started": started, "finished": finished, "submissions_sent": sent}))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
