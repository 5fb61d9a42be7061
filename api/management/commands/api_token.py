"""manage.py api_token USERNAME [--scope read --scope subscribers …] [--name TEXT]
makes a REST API token and prints it once; --revoke PREFIX revokes one."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from api import tokens
from api.models import ApiToken


class Command(BaseCommand):
    help = "Make a REST API token for a user (printed once), or revoke one."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--scope",
            action="append",
            choices=ApiToken.Scope.values,
            help="read (the default), subscribers, authoring; repeat for several.",
        )
        parser.add_argument("--name", default="", help="What will use it.")
        parser.add_argument("--revoke", metavar="PREFIX", help="Revoke the token starting so.")

    def handle(self, *args, username, scope, name, revoke, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        if revoke:
            found = ApiToken.objects.filter(user=user, prefix=revoke[:10], revoked_at__isnull=True)
            if not found.exists():
                raise CommandError(f"{username} has no live token starting {revoke[:10]!r}.")
            for token in found:
                tokens.token_revoke(token=token)
            self.stdout.write(f"Revoked {revoke[:10]}…")
            return
        token, secret = tokens.token_create(user=user, scopes=scope or ["read"], name=name)
        self.stderr.write(f"Token for {username} ({', '.join(token.scopes)}); shown once:")
        self.stdout.write(secret)
