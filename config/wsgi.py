import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)

# Django's WSGIHandler, building its requests with config.security.Request.
from config.security import Handler  # noqa: E402

application = Handler()
