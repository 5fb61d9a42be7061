import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("letterpress")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="letterpress.ping")
def ping(marker: str) -> str:
    """Leave a mark under VAR_DIR/pings/: how the worker test and the send bench
    know a worker is consuming this queue."""
    from django.conf import settings

    folder = settings.VAR_DIR / "pings"
    folder.mkdir(exist_ok=True)
    (folder / marker).write_text("pong")
    return marker
