"""A loopback stand-in for an ESP, speaking the HTTP APIs of Mailgun, Postmark,
SendGrid (v3 mail/send), Unisender Go (email/send.json), Mailjet (Send API v3.1)
and SparkPost (transmissions).

anymail's real backends talk to it over real HTTP (`fake.anymail_settings(esp)`
points a backend's API URL at it, with the credentials it checks). It records
every recipient it accepted, with the per-recipient substitutions that ESP
would make, answers as that ESP does, and can inject 5xx, 429 (with
Retry-After), latency and timeouts. Used by the tests and by bench/.

For big runs it also runs on its own, out of the process that measures:

    .venv/bin/python -m tests.fake_esp --port 8201

with keep_bodies off (addresses are counted, bodies neither kept nor filled in),
GET /_stats for the figures, GET /_counts for every recipient's count and
POST /_reset between runs.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import random
import re
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple
from urllib.parse import parse_qs

MAILGUN_KEY = "key-fake"
POSTMARK_TOKEN = "fake-server-token"
SENDGRID_KEY = "SG.fake-key"
UNISENDER_GO_KEY = "fake-unisender-go-key"
RECIPIENT_VAR = re.compile(r"%recipient\.([^%]+)%")
# Unisender Go's "simple" template engine: {{name}}, spaces allowed inside.
UNISENDER_GO_UNSUBSCRIBE = "https://go.unisender.example/unsubscribe/"
UNISENDER_SUBSTITUTION = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
MAILJET_API_KEY = "fake-mailjet-api-key"
MAILJET_SECRET_KEY = "fake-mailjet-secret-key"
SPARKPOST_KEY = "fake-sparkpost-key"


@dataclass
class Message:
    to: str
    subject: str
    html: str
    text: str
    headers: dict[str, str]
    message_id: str
    # The ESP's own options and tags (Mailgun's o:/v: fields), as sent.
    options: dict[str, str] = field(default_factory=dict)
    # What the ESP keeps with this copy and gives back in its webhooks
    # (SendGrid's custom_args, Unisender Go's metadata, Mailjet's EventPayload,
    # SparkPost's metadata).
    metadata: dict[str, str] = field(default_factory=dict)
    # The API call that brought it, counted from 1 since the last reset.
    call: int = 0
    # Why the ESP refuses this copy while it takes the call's others (Mailjet
    # answers each message of a call on its own); "" when it does not.
    refusal: str = ""


@dataclass
class Faults:
    """Probabilities per request; a timeout accepts the message, then stalls."""

    error_5xx: float = 0.0
    error_429: float = 0.0
    timeout: float = 0.0
    retry_after: int = 1
    stall_seconds: float = 5.0
    latency: float = 0.0  # seconds before each API answer, as a real ESP takes
    seed: int = 1234
    # Addresses refused (Mailgun and SendGrid: 400 for the whole call, Postmark
    # 422; Unisender Go takes the call and lists them in failed_emails, Mailjet
    # answers 400 with an error for each of their messages, SparkPost counts them
    # in total_rejected_recipients, and answers 400 when it refuses them all).
    reject: frozenset[str] = frozenset()
    # Addresses answered 503 (or 429, with Retry-After) for as long as they are listed.
    unavailable: frozenset[str] = frozenset()
    unavailable_status: int = 503


@dataclass
class FakeESP:
    keep_bodies: bool = True
    faults: Faults = field(default_factory=Faults)
    counts: Counter = field(default_factory=Counter)
    messages: list[Message] = field(default_factory=list)
    calls: int = 0
    first_call_at: float | None = None
    last_accept_at: float | None = None
    responses: Counter = field(default_factory=Counter)
    # API requests being answered right now, and the most there were at once.
    in_flight: int = 0
    peak_in_flight: int = 0
    # When a request last came in or was answered.
    last_change_at: float = 0.0

    def __post_init__(self):
        self._lock = threading.Lock()
        self._random = random.Random(self.faults.seed)
        self._server: ThreadingHTTPServer | None = None
        # Kept as messages arrive, so that /_stats stays cheap with a million recipients.
        self._messages = self._twice = 0

    # -- lifecycle ---------------------------------------------------------
    def start(self, port: int = 0) -> FakeESP:
        handler = type("Handler", (_Handler,), {"esp": self})
        self._server = _Server(("127.0.0.1", port), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def mailgun_url(self) -> str:
        return f"{self.url}/v3"

    @property
    def postmark_url(self) -> str:
        return f"{self.url}/postmark/"

    def anymail_settings(self, esp: str) -> dict[str, str]:
        """anymail's settings that send through this ESP's API here (`esp` as in
        anymail.backends.<esp>): its credentials and *_API_URL."""
        base, credentials = {
            "mailgun": ("/v3", {"MAILGUN_API_KEY": MAILGUN_KEY}),
            "postmark": ("/postmark/", {"POSTMARK_SERVER_TOKEN": POSTMARK_TOKEN}),
            "sendgrid": ("/sendgrid/v3/", {"SENDGRID_API_KEY": SENDGRID_KEY}),
            "unisender_go": ("/unisender-go/", {"UNISENDER_GO_API_KEY": UNISENDER_GO_KEY}),
            "mailjet": (
                "/mailjet/v3.1/",
                {"MAILJET_API_KEY": MAILJET_API_KEY, "MAILJET_SECRET_KEY": MAILJET_SECRET_KEY},
            ),
            "sparkpost": ("/sparkpost/api/v1/", {"SPARKPOST_API_KEY": SPARKPOST_KEY}),
        }[esp]
        return {**credentials, f"{esp.upper()}_API_URL": self.url + base}

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self.messages.clear()
            self.responses.clear()
            self.calls = self._messages = self._twice = 0
            self.in_flight = self.peak_in_flight = 0
            self.first_call_at = self.last_accept_at = None
            self.last_change_at = 0.0

    # -- queries used by tests ---------------------------------------------
    def recipients(self) -> set[str]:
        return set(self.counts)

    def quiet_for(self) -> float:
        """Seconds since a request last came in or was answered."""
        return time.monotonic() - self.last_change_at

    def duplicates(self) -> dict[str, int]:
        return {addr: n for addr, n in self.counts.items() if n > 1}

    def messages_to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m.to == address.lower()]

    def stats(self) -> dict:
        """The figures a benchmark reads; times are time.monotonic() of this
        machine (one clock for every process on Linux), None before any call."""
        with self._lock:
            return {
                "calls": self.calls,
                "recipients": len(self.counts),
                "messages": self._messages,
                "duplicates": self._twice,  # recipients who got more than one
                "responses": {str(k): v for k, v in self.responses.items()},
                "peak_in_flight": self.peak_in_flight,
                "first_call_at": self.first_call_at,
                "last_accept_at": self.last_accept_at,
            }

    # -- recording -----------------------------------------------------------
    def _decide_fault(self) -> str | None:
        f = self.faults
        with self._lock:
            roll = self._random.random()
        if roll < f.error_5xx:
            return "5xx"
        if roll < f.error_5xx + f.error_429:
            return "429"
        if roll < f.error_5xx + f.error_429 + f.timeout:
            return "timeout"
        return None

    def _accept(self, messages: list[Message]) -> None:
        with self._lock:
            for message in messages:
                self.counts[message.to] += 1
                self._messages += 1
                self._twice += self.counts[message.to] == 2
                if self.keep_bodies:
                    self.messages.append(message)
            self.last_accept_at = time.monotonic()

    def _note_call(self) -> int:
        """Count an API call; its number."""
        with self._lock:
            self.calls += 1
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            self.last_change_at = time.monotonic()
            if self.first_call_at is None:
                self.first_call_at = time.monotonic()
            return self.calls

    def _note_answered(self) -> None:
        with self._lock:
            self.in_flight -= 1
            self.last_change_at = time.monotonic()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Senders open many connections at once; the default backlog of 5 drops
    # their SYNs, each retried a second later.
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # A sender killed mid-request (as the tests do) is no error of the fake's.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive. Each answer leaves in one write (the writer is
    buffered, flushed once per request) with Nagle off: written as headers then
    body, the body waited for the client's delayed ACK, ~40 ms a request."""

    esp: FakeESP
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = -1  # buffered: BaseHTTPRequestHandler flushes after each request
    answer_at = 0.0  # time.monotonic() when the answer to this request is due
    counted = False  # this request is counted in the ESP's in_flight

    def log_message(self, format, *args):  # noqa: A002 - quiet by default
        pass

    def _reply(
        self,
        status: int,
        body: object = None,
        headers: dict[str, str] | None = None,
        *,
        api: bool = True,
    ) -> None:
        """Answer in JSON, in text (a str body, as Mailjet's 429), or with no
        body at all (body None, as SendGrid's 202)."""
        if api:
            self._take_time()
            self._answered()  # before the answer leaves: its sender may look at once
        text = isinstance(body, str)
        data = b"" if body is None else (body if text else json.dumps(body)).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "text/html" if text else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        if api:  # the answers of the ESP's API, not of /_stats and friends
            self.esp.responses[status] += 1

    def _answered(self) -> None:
        """This request is no longer in flight (once)."""
        if self.counted:
            self.counted = False
            self.esp._note_answered()

    def _take_time(self) -> None:
        """Wait until the answer is due (once: the time is then spent)."""
        wait = self.answer_at - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self.answer_at = 0.0

    def _too_many(self, api: API) -> None:
        retry_after = {"Retry-After": str(self.esp.faults.retry_after)}
        self._reply(429, api.error(429, "Too many requests"), retry_after)

    def _unavailable(self, api: API, status: int = 503) -> None:
        self._reply(status, api.error(status, UNAVAILABLE.get(status, "Service unavailable")))

    def do_GET(self):  # noqa: N802
        if self.path == "/_stats":
            self._reply(200, self.esp.stats(), api=False)
        elif self.path == "/_counts":
            with self.esp._lock:
                counts = dict(self.esp.counts)
            self._reply(200, counts, api=False)
        else:
            self._reply(404, {"message": "not found"})

    def do_POST(self):  # noqa: N802
        esp = self.esp
        if self.path == "/_reset":
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            esp.reset()
            return self._reply(200, {"reset": True}, api=False)
        # In flight from its first line: a sender killed while its body is on the
        # way still has this request counted until the fake has answered it.
        call = esp._note_call()
        self.counted = True
        try:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            # The answer leaves `latency` seconds after the request came in, the
            # fake's own parsing included, as a real API's time to answer includes
            # its work: at 1,000 readers a call, parsing after the wait added 40 ms.
            self.answer_at = time.monotonic() + esp.faults.latency
            self._answer_api(body, call)
        finally:
            self._answered()

    def _answer_api(self, body: bytes, call: int) -> None:
        esp = self.esp
        api = next((api for api in APIS if api.serves(self.path)), None)
        if api is None:
            return self._reply(404, {"message": f"no such endpoint {self.path}"})
        if not api.authorized(self.headers):
            return self._reply(401, api.unauthorized)

        fault = esp._decide_fault()
        if fault == "5xx":
            return self._unavailable(api)
        if fault == "429":
            return self._too_many(api)
        try:
            messages = api.parse(self.headers.get("Content-Type", ""), body, esp.keep_bodies)
        except Refused as refused:  # the ESP's own answer to a call it refuses whole
            return self._reply(*refused.args)
        except (ValueError, KeyError, TypeError) as exc:
            return self._reply(400, {"message": f"bad request: {exc}"})
        reject = esp.faults.reject
        refused = [m for m in messages if m.refusal or m.to in reject]
        if refused and api.refuse is not None:  # the whole call is refused
            return self._reply(*api.refuse(self.path, refused[0].to))
        if any(m.to in esp.faults.unavailable for m in messages):
            if esp.faults.unavailable_status == 429:
                return self._too_many(api)
            return self._unavailable(api, esp.faults.unavailable_status)
        taken = [m for m in messages if not (m.refusal or m.to in reject)]
        for message in taken:
            message.call = call
        self._take_time()
        esp._accept(taken)
        if fault == "timeout":
            # Accepted, but the answer comes too late: the sender cannot know.
            time.sleep(esp.faults.stall_seconds)
        self._reply(*api.answer(self.path, taken, refused))


# What an ESP says when it takes nothing now: 420 is SparkPost's answer to a call
# over the account's hourly or daily sending limit.
UNAVAILABLE = {503: "Service temporarily unavailable", 420: "Exceed Sending Limit (hourly)"}


class Refused(Exception):
    """A call the ESP refuses whole, with its answer: (status, body)."""


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _mailgun_fields(content_type: str, body: bytes) -> dict[str, list[str]]:
    """The form fields of a send call: urlencoded (no attachments) or multipart."""
    if content_type.startswith("application/x-www-form-urlencoded"):
        return parse_qs(body.decode("utf-8"), keep_blank_values=True)
    return _multipart_fields(content_type, body)


def _multipart_fields(content_type: str, body: bytes) -> dict[str, list[str]]:
    """multipart/form-data, split at its boundary: a twentieth of the time
    email.parser takes over a 1,000-reader call, reading each part as a message."""
    boundary = re.search(r'boundary="?([^";]+)"?', content_type)
    if boundary is None:
        raise ValueError("multipart without a boundary")
    fields: dict[str, list[str]] = {}
    for part in body.split(b"--" + boundary.group(1).encode())[1:-1]:
        head, found, data = part.partition(b"\r\n\r\n")
        name = re.search(rb';\s*name="([^"]*)"', head)
        if not found or name is None or not data.endswith(b"\r\n"):
            raise ValueError("a malformed form part")
        fields.setdefault(name.group(1).decode(), []).append(data[:-2].decode("utf-8"))
    return fields


def _parse_mailgun(content_type: str, body: bytes, fill: bool = True) -> list[Message]:
    fields = _mailgun_fields(content_type, body)
    variables = json.loads(fields.get("recipient-variables", ["{}"])[0])
    message_id = f"<{uuid.uuid4().hex}@fake.mailgun>"
    if not fill:  # bodies not kept: count the addresses, skip filling in 1,000 copies
        to = [address.lower() for _name, address in getaddresses(fields["to"])]
        return [Message(a, "", "", "", {}, message_id) for a in to]
    messages = []
    for _name, address in getaddresses(fields["to"]):
        own = variables.get(address, {})

        def sub(text: str, own=own) -> str:
            return RECIPIENT_VAR.sub(lambda m: str(own.get(m.group(1), "")), text)

        headers = {k[2:]: sub(v[0]) for k, v in fields.items() if k.startswith("h:")}
        messages.append(
            Message(
                to=address.lower(),
                subject=sub(fields["subject"][0]),
                html=sub(fields.get("html", [""])[0]),
                text=sub(fields.get("text", [""])[0]),
                headers=headers,
                message_id=message_id,
                options={k: v[0] for k, v in fields.items() if k.startswith(("o:", "v:"))},
            )
        )
    return messages


def _mailgun_reply(path: str, messages: list[Message], refused) -> tuple[int, dict]:
    return 200, {"id": messages[0].message_id if messages else "", "message": "Queued. Thank you."}


def _mailgun_refusal(path: str, address: str) -> tuple[int, dict]:
    return 400, {"message": f"'to' parameter is not a valid address: {address}"}


def _parse_postmark(content_type: str, body: bytes, fill: bool = True) -> list[Message]:
    data = json.loads(body)
    items = data if isinstance(data, list) else [data]
    messages = []
    for item in items:
        for _name, address in getaddresses([item["To"]]):
            messages.append(
                Message(
                    to=address.lower(),
                    subject=item.get("Subject", ""),
                    html=item.get("HtmlBody", ""),
                    text=item.get("TextBody", ""),
                    headers={h["Name"]: h["Value"] for h in item.get("Headers", [])},
                    message_id=str(uuid.uuid4()),
                )
            )
    return messages


def _postmark_refusal(path: str, address: str) -> tuple[int, dict]:
    return 422, {"ErrorCode": 300, "Message": f"Invalid 'To' address: '{address}'."}


def _postmark_reply(path: str, messages: list[Message], refused) -> tuple[int, object]:
    replies = [
        {
            "To": m.to,
            "SubmittedAt": "2026-01-01T00:00:00Z",
            "MessageID": m.message_id,
            "ErrorCode": 0,
            "Message": "OK",
        }
        for m in messages
    ]
    return 200, (replies if path.endswith("/batch") else replies[0])


# -- SendGrid: v3 mail/send ------------------------------------------------------------


def _parse_sendgrid(content_type: str, body: bytes, fill: bool = True) -> list[Message]:
    """One copy per recipient of each personalization, its substitutions made as
    SendGrid makes them: each key replaced as a plain string in the subject and
    every content part. Headers are the message's, overridden by its
    personalization's, and custom_args likewise (kept as the copy's metadata)."""
    data = json.loads(body)
    message_id = uuid.uuid4().hex[:22]  # X-Message-Id: one for the request
    if not fill:
        return [
            Message(to["email"].lower(), "", "", "", {}, message_id)
            for p in data["personalizations"]
            for to in p["to"]
        ]
    content = {part["type"]: part["value"] for part in data.get("content", [])}
    messages = []
    for personalization in data["personalizations"]:
        substitutions = personalization.get("substitutions", {})

        def sub(text: str, substitutions=substitutions) -> str:
            for key, value in substitutions.items():
                text = text.replace(key, value or "")
            return text

        headers = {**data.get("headers", {}), **personalization.get("headers", {})}
        metadata = {**data.get("custom_args", {}), **personalization.get("custom_args", {})}
        for to in personalization["to"]:
            messages.append(
                Message(
                    to=to["email"].lower(),
                    subject=sub(personalization.get("subject", data.get("subject", ""))),
                    html=sub(content.get("text/html", "")),
                    text=sub(content.get("text/plain", "")),
                    headers=headers,
                    message_id=message_id,
                    options={"tracking_settings": json.dumps(data.get("tracking_settings", {}))},
                    metadata=metadata,
                )
            )
    return messages


def _sendgrid_reply(path: str, messages: list[Message], refused) -> tuple[int, None, dict]:
    """202 Accepted, no body: anymail reads nothing more of a success."""
    return 202, None, {"X-Message-Id": messages[0].message_id if messages else ""}


def _sendgrid_refusal(path: str, address: str) -> tuple[int, dict]:
    error = {"message": f"Does not contain a valid address: {address}", "field": "to"}
    return 400, {"errors": [{**error, "help": None}]}


# -- Unisender Go: email/send.json --------------------------------------------------------


def _parse_unisender_go(content_type: str, body: bytes, fill: bool = True) -> list[Message]:
    """One copy per recipient, its substitutions (over the global ones) filled
    into the subject and body parts, and into List-Unsubscribe: the one header
    Unisender Go fills per recipient, and only when told to leave out its own
    unsubscribe link (skip_unsubscribe). Its metadata (over the global) is kept."""
    message = json.loads(body)["message"]
    job_id = f"1{uuid.uuid4().hex[:5]}-{uuid.uuid4().hex[:6]}-{uuid.uuid4().hex[:4]}"
    if not fill:
        return [Message(r["email"].lower(), "", "", "", {}, job_id) for r in message["recipients"]]
    body_parts = message.get("body", {})
    messages = []
    for recipient in message["recipients"]:
        own = {**message.get("global_substitutions", {}), **recipient.get("substitutions", {})}

        def sub(text: str, own=own) -> str:
            return UNISENDER_SUBSTITUTION.sub(lambda m: str(own.get(m.group(1), "")), text)

        headers = {
            name: sub(value) if name.lower() == "list-unsubscribe" else value
            for name, value in message.get("headers", {}).items()
        }
        if not message.get("skip_unsubscribe"):  # its own unsubscribe link, in place of ours
            headers["List-Unsubscribe"] = f"<{UNISENDER_GO_UNSUBSCRIBE}{job_id}>"
        messages.append(
            Message(
                to=recipient["email"].lower(),
                subject=sub(message.get("subject", "")),
                html=sub(body_parts.get("html", "")),
                text=sub(body_parts.get("plaintext", "")),
                headers=headers,
                message_id=job_id,
                options={
                    k: str(message[k]) for k in ("track_links", "skip_unsubscribe") if k in message
                },
                metadata={**message.get("global_metadata", {}), **recipient.get("metadata", {})},
            )
        )
    return messages


def _unisender_go_reply(path: str, messages: list[Message], refused) -> tuple[int, dict]:
    """200 with the addresses taken, and those refused in failed_emails."""
    return 200, {
        "status": "success",
        "job_id": messages[0].message_id if messages else "",
        "emails": [m.to for m in messages],
        "failed_emails": {m.to: "invalid" for m in refused},
    }


# -- Mailjet: Send API v3.1 -------------------------------------------------------------

# Headers a message may not set in its Headers: Mailjet answers send-0011 for the
# message (it has a property for some, and sets the others itself).
MAILJET_OWN_HEADERS = frozenset(
    name.lower()
    for name in (
        "From", "Sender", "Subject", "To", "Cc", "Bcc", "Reply-To", "Return-Path",
        "Delivered-To", "Date", "Message-Id", "List-Id", "DKIM-Signature",
        "DomainKey-Status", "Received-SPF", "Authentication-Results", "Received",
        "User-Agent", "X-Mailer", "X-Feedback-Id", "X-CSA-Complaints",
        "X-Mailjet-Prio", "X-Mailjet-Debug", "X-Mailjet-Campaign", "X-Mailjet-Segmentation",
        "X-Mailjet-TrackOpen", "X-Mailjet-TrackClick", "X-MJ-CustomID",
        "X-MJ-EventPayload", "X-MJ-Vars", "X-MJ-TemplateID", "X-MJ-TemplateLanguage",
        "X-MJ-TemplateErrorDeliver", "X-MJ-TemplateErrorReporting", "X-MJ-WorkflowID",
        "X-MJ-MID", "X-MJ-ErrorMessage", "X-MJ-StatisticsContactsListID",
    )
)  # fmt: skip
MAILJET_MESSAGES = 50  # a call's most messages
# {{var:name}} or {{var:name:default}}, filled only with TemplateLanguage on.
MAILJET_VARIABLE = re.compile(r"\{\{\s*var:(\w+)(?::(\"[^\"]*\"|[^}]*?))?\s*\}\}")
MAILJET_UNSUBSCRIBE = "mailto:unsub-{}@bnc3.mailjet.example"
# Mailjet's message ids are 64-bit numbers, one per copy.
_MAILJET_IDS = itertools.count(288230376151711744 + random.randrange(10**12))


def _mailjet_error(status: int, text: str) -> object:
    """Mailjet's errors outside a message: a 429 in plain text, else JSON."""
    if status == 429:
        return "Rate limit exceeded"
    return {"ErrorIdentifier": str(uuid.uuid4()), "StatusCode": status, "ErrorMessage": text}


def _mailjet_refusal(code: str, text: str, related: str) -> dict:
    return {
        "ErrorIdentifier": str(uuid.uuid4()),
        "ErrorCode": code,
        "StatusCode": 400,
        "ErrorMessage": text,
        "ErrorRelatedTo": [related],
    }


def _parse_mailjet(content_type: str, body: bytes, fill: bool = True) -> list[Message]:
    """One copy per recipient of each message: the Globals under the message's own
    properties (Headers and Variables merged, the message's first). With
    TemplateLanguage on, {{var:name}} in the subject and both parts is the copy's
    variable (or the default it names, else ""); off, it stays as written. A
    message whose Headers set one Mailjet keeps for itself is refused; a copy
    without List-Unsubscribe gets Mailjet's own. Its EventPayload is kept as metadata."""
    data = json.loads(body)
    messages = data["Messages"]
    if not 0 < len(messages) <= MAILJET_MESSAGES:
        text = f"Messages: between 1 and {MAILJET_MESSAGES} messages a call, not {len(messages)}"
        raise Refused(400, _mailjet_refusal("mj-0008", text, "Messages"))
    common = data.get("Globals", {})
    copies = []
    for item in messages:
        own = {**common, **item}
        headers = {**common.get("Headers", {}), **item.get("Headers", {})}
        variables = {**common.get("Variables", {}), **item.get("Variables", {})}
        for to in own.get("To", []) + own.get("Cc", []) + own.get("Bcc", []):
            message_id = str(next(_MAILJET_IDS))
            if not fill:
                copies.append(Message(to["Email"].lower(), "", "", "", {}, message_id))
                continue
            copies.append(_mailjet_copy(to["Email"].lower(), own, headers, variables, message_id))
    return copies


def _mailjet_copy(to: str, own: dict, headers: dict, variables: dict, message_id: str) -> Message:
    def sub(text: str) -> str:
        if not own.get("TemplateLanguage"):
            return text
        return MAILJET_VARIABLE.sub(
            lambda m: str(variables.get(m.group(1), (m.group(2) or "").strip('"'))), text
        )

    kept = [name for name in headers if name.lower() in MAILJET_OWN_HEADERS]
    refusal = ""
    if kept:
        refusal = (
            'Header cannot be customized using the "Headers" collection. '
            f"Please use the dedicated property to set this header. ({kept[0]})"
        )
    headers = dict(headers)
    if not any(name.lower() == "list-unsubscribe" for name in headers):
        headers["List-Unsubscribe"] = f"<{MAILJET_UNSUBSCRIBE.format(message_id)}>"
    payload = own.get("EventPayload", "")
    return Message(
        to=to,
        subject=sub(own.get("Subject", "")),
        html=sub(own.get("HTMLPart", "")),
        text=sub(own.get("TextPart", "")),
        headers=headers,
        message_id=message_id,
        options={
            k: str(own[k]) for k in ("TrackClicks", "TrackOpens", "CustomCampaign") if k in own
        },
        metadata=json.loads(payload) if payload.startswith("{") else {},
        refusal=refusal,
    )


def _mailjet_reply(path: str, messages: list[Message], refused) -> tuple[int, dict]:
    """Each message's status, its recipient's MessageID and MessageUUID; 400 when
    any message was refused (the others are sent all the same)."""
    answers = [
        {
            "Status": "success",
            "CustomID": "",
            "To": [
                {
                    "Email": m.to,
                    "MessageUUID": str(uuid.uuid4()),
                    "MessageID": int(m.message_id),
                    "MessageHref": f"https://api.mailjet.example/v3/REST/message/{m.message_id}",
                }
            ],
            "Cc": [],
            "Bcc": [],
        }
        for m in messages
    ]
    for m in refused:
        error = (
            _mailjet_refusal("send-0011", m.refusal, "Headers")
            if m.refusal
            else _mailjet_refusal(
                "mj-0013", f'"{m.to}" is an invalid email address.', "To[0].Email"
            )
        )
        answers.append({"Status": "error", "Errors": [error]})
    return (400 if refused else 200), {"Messages": answers}


# -- SparkPost: transmissions --------------------------------------------------------

# {{{name}}} as it is, {{name}} HTML-escaped in the HTML part.
SPARKPOST_SUBSTITUTION = re.compile(
    r"\{\{\{\s*([A-Za-z_]\w*)\s*\}\}\}|\{\{\s*([A-Za-z_]\w*)\s*\}\}"
)
SPARKPOST_ESCAPE = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;", "/": "&#x2F;"}
)
# SparkPost's transmission ids: one per call, a 17-digit number.
_SPARKPOST_IDS = itertools.count(10**16 + random.randrange(10**15))


def _sparkpost_error(status: int, text: str) -> dict:
    return {"errors": [{"message": text}]}


def _parse_sparkpost(content_type: str, body: bytes, fill: bool = True) -> list[Message]:
    """One copy per recipient, filled from the transmission's metadata and
    substitution_data under the recipient's own (substitution_data over metadata)
    in the subject, the headers, the text and the HTML, where {{name}} is
    HTML-escaped (as a mail client reads an href, the same link). Metadata
    (the recipient's over the transmission's) is kept; the copy's id is the
    transmission's."""
    data = json.loads(body)
    transmission_id = str(next(_SPARKPOST_IDS))
    recipients = data["recipients"]
    if not isinstance(recipients, list):  # a stored recipient list: not here
        raise ValueError("recipients: a list of recipients")
    if not fill:
        return [Message(_sparkpost_to(r), "", "", "", {}, transmission_id) for r in recipients]
    content = data["content"]
    common = {**data.get("metadata", {}), **data.get("substitution_data", {})}
    copies = []
    for recipient in recipients:
        own = {**common, **recipient.get("metadata", {}), **recipient.get("substitution_data", {})}
        headers = content.get("headers", {})
        copies.append(
            Message(
                to=_sparkpost_to(recipient),
                subject=_sparkpost_fill(content.get("subject", ""), own),
                html=_sparkpost_fill(content.get("html", ""), own, html=True),
                text=_sparkpost_fill(content.get("text", ""), own),
                headers={name: _sparkpost_fill(value, own) for name, value in headers.items()},
                message_id=transmission_id,
                options={
                    **{k: str(v) for k, v in data.get("options", {}).items()},
                    "campaign_id": data.get("campaign_id", ""),
                },
                metadata={**data.get("metadata", {}), **recipient.get("metadata", {})},
            )
        )
    return copies


def _sparkpost_fill(text: str, own: dict, *, html: bool = False) -> str:
    def filled(m: re.Match) -> str:
        found = own.get(m.group(1) or m.group(2))
        found = "" if found is None else str(found)
        return found.translate(SPARKPOST_ESCAPE) if html and m.group(2) else found

    return SPARKPOST_SUBSTITUTION.sub(filled, text or "")


def _sparkpost_to(recipient: dict) -> str:
    address = recipient["address"]
    return (address["email"] if isinstance(address, dict) else address).lower()


def _sparkpost_reply(path: str, messages: list[Message], refused) -> tuple[int, dict]:
    """The transmission's id and its counts of recipients taken and refused, which
    it does not name (its rcpt_to_errors describe each refusal); 400 when it
    refuses every recipient."""
    if not messages:
        return 400, {
            "errors": [{"message": "At least one valid recipient is required", "code": "5002"}]
        }
    results = {
        "total_rejected_recipients": len(refused),
        "total_accepted_recipients": len(messages),
        "id": messages[0].message_id,
    }
    if not refused:
        return 200, {"results": results}
    results["rcpt_to_errors"] = [
        {
            "message": "invalid data format/type",
            "description": f"invalid recipient address.email: {m.to}",
            "code": "1300",
        }
        for m in refused
    ]
    error = {"message": "transmission created, but with validation errors", "code": "2000"}
    return 200, {"errors": [error], "results": results}


def _plain_error(status: int, text: str) -> dict:
    return {"message": text}


class API(NamedTuple):
    """One ESP's send endpoint as the fake serves it."""

    serves: Callable[[str], bool]  # the request path
    authorized: Callable[[object], bool]  # the request headers
    unauthorized: dict  # the 401's body
    parse: Callable[..., list[Message]]  # (content type, body, fill): each copy
    answer: Callable[..., tuple]  # (path, taken, refused): status, body[, headers]
    # (path, address): the whole call's refusal; None: refused per recipient.
    refuse: Callable[[str, str], tuple[int, dict]] | None
    # (status, text): the body of a 429 or 5xx.
    error: Callable[[int, str], object] = _plain_error


APIS = (
    API(
        lambda path: path.startswith("/v3/") and path.endswith("/messages"),
        lambda headers: headers.get("Authorization") == _basic("api", MAILGUN_KEY),
        {"message": "Invalid private key"},
        _parse_mailgun,
        _mailgun_reply,
        _mailgun_refusal,
    ),
    API(
        lambda path: path in ("/postmark/email", "/postmark/email/batch"),
        lambda headers: headers.get("X-Postmark-Server-Token") == POSTMARK_TOKEN,
        {"ErrorCode": 10, "Message": "Bad or missing token"},
        _parse_postmark,
        _postmark_reply,
        _postmark_refusal,
    ),
    API(
        lambda path: path == "/sendgrid/v3/mail/send",
        lambda headers: headers.get("Authorization") == f"Bearer {SENDGRID_KEY}",
        {"errors": [{"field": None, "message": "The provided authorization grant is invalid"}]},
        _parse_sendgrid,
        _sendgrid_reply,
        _sendgrid_refusal,
    ),
    API(
        lambda path: path == "/unisender-go/email/send.json",
        lambda headers: headers.get("X-API-KEY") == UNISENDER_GO_KEY,
        {"status": "error", "message": "User with id not found", "code": 114},
        _parse_unisender_go,
        _unisender_go_reply,
        None,
    ),
    API(
        lambda path: path == "/mailjet/v3.1/send",
        lambda headers: headers.get("Authorization") == _basic(MAILJET_API_KEY, MAILJET_SECRET_KEY),
        {
            "ErrorIdentifier": "a2b4c6d8-0000-4000-8000-000000000401",
            "ErrorCode": "mj-0015",
            "StatusCode": 401,
            "ErrorMessage": "API key authentication/authorization failure.",
        },
        _parse_mailjet,
        _mailjet_reply,
        None,
        _mailjet_error,
    ),
    API(
        lambda path: path == "/sparkpost/api/v1/transmissions/",
        lambda headers: headers.get("Authorization") == SPARKPOST_KEY,
        {"errors": [{"message": "Unauthorized."}]},
        _parse_sparkpost,
        _sparkpost_reply,
        None,
        _sparkpost_error,
    ),
)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake ESP on its own (bench/).")
    parser.add_argument("--port", type=int, default=8201)
    parser.add_argument("--keep-bodies", action="store_true")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per call")
    parser.add_argument("--smtp-port", type=int, help="also an SMTP sink on this port")
    args = parser.parse_args()
    esp = FakeESP(keep_bodies=args.keep_bodies)
    esp.faults.latency = args.latency
    esp.start(port=args.port)
    print(f"fake ESP on {esp.url} (Mailgun API at {esp.mailgun_url})", flush=True)
    sink = None
    if args.smtp_port:
        from tests.fake_smtp import FakeSMTP  # aiosmtpd, only when asked for

        sink = FakeSMTP(esp).start(port=args.smtp_port)
        print(f"SMTP sink on 127.0.0.1:{sink.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        if sink:
            sink.stop()
        esp.stop()


if __name__ == "__main__":
    main()
