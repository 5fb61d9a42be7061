"""The one way services hand work to the workers: by task name, so no service
imports a tasks module (the tasks import the services, never the reverse).

enqueue() runs inline where Celery is eager (the tests' default) and publishes
to the broker otherwise, like task.delay(). Each app's tasks module is
imported when the app is ready, so every name is known in every process.
"""

from config.celery import app


def enqueue(task_name: str, *args) -> None:
    app.signature(task_name, args=args).delay()
