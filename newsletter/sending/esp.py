"""What the hand-over needs to know of ESPs: which fill per-recipient values
themselves (one API call per batch), and what a failed hand-over means.

Retry only when the ESP certainly did not take the message: it answered 5xx
or 429, or we never reached it. A request that left but got no answer is
ambiguous: never resent without an editor asking.
"""

import random
import smtplib
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import NamedTuple

import requests
import urllib3
from anymail.exceptions import AnymailError, AnymailRecipientsRefused
from anymail.signals import pre_send
from django.core.mail import get_connection
from django.utils import timezone

# Exponential backoff after retryable ESP errors: 1 s, 2 s, 4 s ... at most 5 minutes.
BACKOFF_BASE = 1.0
BACKOFF_MAX = 300.0
RETRY_AFTER_MAX = 3600.0


class TryLater(Exception):
    """The ESP could not take the batch now; its rows are planned again."""

    def __init__(self, reason: str, *, countdown: float):
        super().__init__(reason)
        self.countdown = countdown


# -- ESPs that fill per-recipient values themselves -------------------------------


@dataclass(frozen=True)
class BatchAPI:
    syntax: str  # our [[name]] becomes syntax.format(name)
    max_recipients: int
    esp_extra: dict = field(default_factory=dict)


# Our [[name]] as {{name}}.
BRACES = "{{{{{}}}}}"

# Keyed by anymail's esp_name: the ESPs whose API takes one message for many
# readers and fills each copy's values and List-Unsubscribe itself, with no
# stored template, each with the most recipients its API takes in one call.
# Every other backend gets one message per reader; the README's table says why
# each of them does (anymail refuses merge data without a stored template, or
# per-recipient headers).
BATCH_APIS = {
    "Mailgun": BatchAPI("%recipient.{}%", 1000),
    # Mailjet's Send API v3.1 substitutes variables only with its template language on.
    "Mailjet": BatchAPI("{{{{var:{}}}}}", 50, {"Globals": {"TemplateLanguage": True}}),
    "SparkPost": BatchAPI(BRACES, 1000),
    # v3 mail/send: one personalization per reader, its substitutions replaced
    # as plain strings in the subject and content, with the delimiters anymail
    # must be told (merge_field_format). 1,000 personalizations a request.
    "SendGrid": BatchAPI(BRACES, 1000, {"merge_field_format": BRACES}),
    # email/send: substitutions in the body, and in List-Unsubscribe (the one
    # header it fills per recipient) once its own unsubscribe link is off,
    # which Unisender Go's support must allow for the account. 500 a request.
    "Unisender Go": BatchAPI(BRACES, 500, {"skip_unsubscribe": 1}),
}


def batch_api(backend) -> BatchAPI | None:
    return BATCH_APIS.get(getattr(backend, "esp_name", ""))


def build_ahead(backend, message) -> None:
    """Build the request anymail will post for `message` now, while the call before
    it is out, so that its send only posts: a 1,000-reader call takes anymail about
    50 ms to build and encode, which otherwise lies between one answer and the next
    call. Nothing is built ahead when pre_send receivers may still change the
    message, and a build that fails is left to the send, where its error is that
    call's alone: raised here, it would abandon the call still out."""
    if pre_send.has_listeners():
        return
    try:
        payload = backend.build_message_payload(message, backend.send_defaults)
        params = payload.get_request_params(backend.api_url)
        timeout, auth = params.pop("timeout", None), params.pop("auth", None)
        if isinstance(form := params.get("data"), dict):
            # A form (Mailgun's) goes as multipart/form-data, whose parts requests
            # writes as they are, where its urlencoding quotes each character in
            # Python: 5 ms against 30 ms for a 1,000-reader call, and an eighth smaller.
            parts = [(name, (None, value)) for name, value in form_fields(form)]
            params |= {"data": None, "files": parts + list(params.get("files") or [])}
        request = requests.Request(**params).prepare()
    except Exception:  # noqa: BLE001 - the send builds it again and says what is wrong
        return
    ahead = {"method": request.method, "url": request.url, "data": request.body, "auth": auth}
    ahead["headers"] = dict(request.headers)
    if timeout:  # else anymail's post_to_esp gives its own (setdefault)
        ahead["timeout"] = timeout
    payload.get_request_params = lambda api_url: dict(ahead)
    message.payload_ahead = payload


def form_fields(form: dict):
    """(name, value) for each value of a form given as {name: value or values}, as
    requests' urlencoding reads it: values in text, None left out."""
    for name, values in form.items():
        if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
            values = [values]
        for value in values:
            if value is not None:
                yield name, value if isinstance(value, str | bytes) else str(value)


def posts_built_ahead(backend):
    """`backend`, posting the request of a message built ahead (build_ahead) as built."""
    build = backend.build_message_payload

    def build_message_payload(message, defaults):
        payload = message.__dict__.pop("payload_ahead", None)
        return build(message, defaults) if payload is None else payload

    backend.build_message_payload = build_message_payload
    return backend


# Readers per batch task when each gets their own request: many rounds of the
# requests a worker process keeps in flight, as each task ends by waiting for its
# last answers with slots idle, and still tasks enough for every process. At 100
# ms an answer, 1,000 readers on 2 processes: 213 emails/s with 100, 231 with 250
# (bench/send_throughput.py --esp postmark --latency 0.1, 3 rounds each).
EACH_BATCH = 250


# A batch task's calls go one after another, each waiting its turn at the send
# rate, and a task must end within the task time limit (570 s by default): so at
# most ten calls a task, and a minute of the newsletter's send rate (a task that
# shares the rate with other workers' takes a multiple of that).
CALLS_A_TASK = 10
TASK_SECONDS = 60


def batch_size(newsletter) -> int:
    """Readers per batch task: the newsletter's, or fewer when sent one by one, when
    its ESP takes few readers a call, or when its send rate is low."""
    size = min(newsletter.batch_size, newsletter.send_rate * TASK_SECONDS)
    api = batch_api(get_connection())
    return min(size, CALLS_A_TASK * api.max_recipients if api else EACH_BATCH)


# -- What an error means ------------------------------------------------------------


class Outcome(StrEnum):
    RETRY = "retry"  # certainly not taken: try again after a backoff
    FAILED = "failed"  # refused for good
    AMBIGUOUS = "ambiguous"  # may have been taken: an editor decides


class Verdict(NamedTuple):
    outcome: Outcome
    reason: str | None
    retry_after: float | None  # the ESP's Retry-After, seconds


# Answers that mean "nothing taken, come back later": 429, and SparkPost's 420
# for a call over the account's hourly or daily sending limit.
SLOW_DOWN = frozenset({420, 429})


def classify(exc: Exception) -> Verdict:
    """What a failed hand-over means, with the reason to record."""
    response = getattr(exc, "response", None)
    status = response.status_code if response is not None else getattr(exc, "status_code", None)
    reason = f"{status}: {esp_message(exc)}" if status is not None else None
    if isinstance(exc, AnymailRecipientsRefused):  # the ESP refused every address
        return Verdict(Outcome.FAILED, reason or str(exc).splitlines()[0], None)
    if status is not None:
        if status in SLOW_DOWN or status >= 500:
            return Verdict(Outcome.RETRY, reason, retry_after(exc))
        return Verdict(Outcome.FAILED, reason, None)
    if isinstance(exc, requests.RequestException) and never_sent(exc):
        return Verdict(Outcome.RETRY, f"The ESP could not be reached: {exc.__cause__ or exc}", None)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return Verdict(Outcome.FAILED, f"Refused: {exc.recipients}", None)
    if isinstance(exc, smtplib.SMTPResponseException):
        outcome = Outcome.RETRY if 400 <= exc.smtp_code < 500 else Outcome.FAILED
        return Verdict(outcome, f"{exc.smtp_code}: {exc.smtp_error!r}", None)
    if isinstance(exc, ConnectionRefusedError):
        return Verdict(Outcome.RETRY, f"The ESP could not be reached: {exc}", None)
    if isinstance(exc, AnymailError) and not isinstance(exc, requests.RequestException):
        # Refused before or by the ESP's rules.
        return Verdict(Outcome.FAILED, str(exc).splitlines()[0], None)
    reason = f"Outcome unknown: {type(exc).__name__}: {exc.__cause__ or exc}"
    return Verdict(Outcome.AMBIGUOUS, reason, None)


def never_sent(exc: Exception) -> bool:
    """Connection refused, name not resolved or connect timeout: nothing left this machine."""
    cause = exc.__cause__ or exc
    if isinstance(cause, requests.ConnectTimeout):
        return True
    if isinstance(cause, requests.ConnectionError) and cause.args:
        reason = getattr(cause.args[0], "reason", cause.args[0])
        return isinstance(reason, urllib3.exceptions.NewConnectionError)
    return False


def esp_message(exc: Exception) -> str:
    """The ESP's own words from an error response."""
    response = getattr(exc, "response", None)
    if response is None:
        return str(exc)
    try:
        data = response.json()
    except ValueError:
        return response.text[:500] or response.reason
    if isinstance(data, dict):
        errors = data.get("errors")  # SendGrid: [{"message", "field", "help"}]
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return "; ".join(str(e.get("message")) for e in errors)[:500]
        return str(data.get("message") or data.get("Message") or data)[:500]
    return str(data)[:500]


def retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - timezone.now()).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), RETRY_AFTER_MAX)


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """Exponential with jitter, and never sooner than the ESP's Retry-After."""
    wait = min(BACKOFF_MAX, BACKOFF_BASE * 2**attempt) * random.uniform(1.0, 1.5)
    return max(wait, retry_after or 0.0)
