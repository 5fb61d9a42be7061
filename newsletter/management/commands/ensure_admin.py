import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create an admin user with a printed password when there is none."

    def handle(self, *args, **options):
        User = get_user_model()
        saved = settings.VAR_DIR / "admin-credentials.txt"
        if User.objects.filter(is_superuser=True).exists():
            if saved.exists():
                self.stdout.write(f"Admin login: {saved.read_text().strip()}")
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", "admin@example.com", password)
        saved.write_text(f"admin / {password}\n")
        saved.chmod(0o600)
        self.stdout.write(self.style.SUCCESS(f"Created admin login: admin / {password}"))
