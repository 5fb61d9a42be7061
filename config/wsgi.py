import os

import django
from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
try:
    django.setup(set_prefix=False)
except SystemExit as refusal:
    # The settings refuse this configuration (config.deployment). gunicorn
    # starts a new worker for one that exits, for ever; it stops for good, with
    # the reason in its log, when a worker fails to boot.
    raise ImproperlyConfigured(refusal.code) from None

# Django's WSGIHandler, building its requests with config.security.Request.
from config.security import Handler  # noqa: E402

application = Handler()
