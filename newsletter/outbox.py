"""The embedded default's ESP: every message becomes one .eml file under
var/outbox/, which the app lists at /outbox/ while DEBUG is on."""

import uuid
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone


class OutboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        folder = Path(settings.OUTBOX_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
            message_id = f"{stamp}-{uuid.uuid4().hex[:8]}"
            path = folder / f"{message_id}.eml"
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(message.message().as_bytes(linesep="\r\n"))
            tmp.rename(path)
            message.outbox_id = message_id
            sent += 1
        return sent
