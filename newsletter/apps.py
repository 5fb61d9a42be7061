from django.apps import AppConfig


class NewsletterConfig(AppConfig):
    name = "newsletter"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connect the receivers (tracking: ESP webhook events → Delivery).
        from newsletter import signals, tracking  # noqa: F401
