"""An SMTP sink beside the fake ESP: the SMTP path (ESP=smtp) measured and
tested the way the API paths are. It records into a FakeESP, so that the same
counts, /_stats and faults serve both: latency before each message's answer,
5xx as "451 try again", 429 as "421 too busy", timeouts as an answer that
comes too late, and refused addresses as "550" at RCPT TO.

    esp = FakeESP().start()
    sink = FakeSMTP(esp).start()   # sink.port: EMAIL_PORT for ESP=smtp
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from email import policy
from email.parser import BytesParser

from aiosmtpd.controller import Controller

from tests.fake_esp import FakeESP, Message


class FakeSMTP:
    def __init__(self, esp: FakeESP):
        self.esp = esp
        self._controller: Controller | None = None

    def start(self, port: int = 0) -> FakeSMTP:
        """On `port`, or a free one (aiosmtpd connects to its own port to see it is up)."""
        self._controller = Controller(
            _Handler(self.esp), hostname="127.0.0.1", port=port or _free_port()
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller:
            self._controller.stop()

    @property
    def port(self) -> int:
        return self._controller.port


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Handler:
    def __init__(self, esp: FakeESP):
        self.esp = esp

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.lower() in self.esp.faults.reject:
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        esp = self.esp
        esp._note_call()
        try:
            if esp.faults.latency:
                await asyncio.sleep(esp.faults.latency)
            fault = esp._decide_fault()
            if fault == "5xx":
                return self._answer("451 4.3.0 Temporary failure, try again later")
            if fault == "429":
                return self._answer("421 4.7.0 Too many messages, slow down")
            if any(to.lower() in esp.faults.unavailable for to in envelope.rcpt_tos):
                return self._answer("451 4.3.0 Temporary failure, try again later")
            message_id = f"<{uuid.uuid4().hex}@fake-smtp>"
            esp._accept(_messages(envelope, message_id, esp.keep_bodies))
            if fault == "timeout":
                await asyncio.sleep(esp.faults.stall_seconds)
            return self._answer(f"250 2.0.0 OK queued as {message_id}")
        finally:
            esp._note_answered()

    def _answer(self, reply: str) -> str:
        with self.esp._lock:
            self.esp.responses[int(reply[:3])] += 1
        return reply


def _messages(envelope, message_id: str, keep_bodies: bool) -> list[Message]:
    """One recorded message per envelope recipient (as the API paths record them)."""
    if not keep_bodies:
        return [Message(to.lower(), "", "", "", {}, message_id) for to in envelope.rcpt_tos]
    parsed = BytesParser(policy=policy.default).parsebytes(envelope.content)
    html = parsed.get_body(("html",))
    text = parsed.get_body(("plain",))
    headers = {key: str(value) for key, value in parsed.items()}
    return [
        Message(
            to=to.lower(),
            subject=str(parsed["Subject"] or ""),
            html=html.get_content() if html else "",
            text=text.get_content() if text else "",
            headers=headers,
            message_id=message_id,
        )
        for to in envelope.rcpt_tos
    ]
