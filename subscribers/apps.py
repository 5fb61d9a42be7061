from django.apps import AppConfig


class SubscribersConfig(AppConfig):
    name = "subscribers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the tasks that subscriptions.py enqueues by name (config.queue).
        from subscribers import tasks  # noqa: F401
