from django.apps import AppConfig


class NewsletterConfig(AppConfig):
    name = "newsletter"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connect the receivers (section and link changes; ESP webhook events →
        # Delivery), and register the tasks the services enqueue by name.
        from newsletter import signals, tasks  # noqa: F401
        from newsletter.engagement import events  # noqa: F401
