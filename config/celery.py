import os

from celery import Celery
from celery.signals import task_prerun

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


@task_prerun.connect
def usable_connections(task=None, **kwargs) -> None:
    """Before each task, what Django does before each request: drop database
    connections that broke or outlived CONN_MAX_AGE, and health-check the rest
    on first use. (Celery's own fixup would open a new one for every task; see
    CELERY_DB_REUSE_MAX.) Inline tasks run inside the caller's connection."""
    if task is not None and not task.request.is_eager:
        from django.db import close_old_connections

        close_old_connections()
