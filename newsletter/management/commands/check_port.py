import socket

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Fail with a clear message when HOST:PORT is taken (make run, before starting)."

    def add_arguments(self, parser):
        parser.add_argument("host")
        parser.add_argument("port", type=int)

    def handle(self, *args, host: str, port: int, **options):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # As runserver binds: a port left in TIME_WAIT is free, a listener is not.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise CommandError(
                    f"Port {port} on {host} is taken ({exc.strerror}). Stop what runs "
                    f"there, or pick another port: make run PORT={port + 1}"
                ) from exc
