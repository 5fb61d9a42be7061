"""The ESP webhook endpoints: anymail's tracking views, mounted under /anymail/
by webhook_urlpatterns() with anymail's paths and names, each guarded with what
anymail leaves to us:

- Only the tracking endpoint of the ESP we send through (settings.ESP) answers;
  every other one is a 404, as if it were not mounted, and all of them are on
  the local outbox or SMTP. A request is checked, not the URLconf built once, so
  the ESP is read where the rest of the settings are (anymail reads them per
  request too). anymail's inbound-mail endpoints are not mounted at all.
- 401 without the WEBHOOK_SECRET basic auth, 400 for a payload it cannot read,
  and a request's events applied all or not at all.
- Mailgun signs a timestamp and a token, not the event they come with: a
  signature whose timestamp is not within minutes of now, or one already
  accepted with another body, is refused with 406, which Mailgun reads as
  "do not retry" (WebhookSignature).
- Amazon SES: anymail confirms an SNS subscription by calling AWS; only for a
  topic listed in SES_SNS_TOPICS.
"""

import copy
import functools
import json
import logging
from datetime import UTC, datetime

from anymail import urls as anymail_urls
from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailError,
    AnymailWebhookValidationFailure,
)
from anymail.signals import inbound
from anymail.utils import get_anymail_setting, get_request_basic_auth
from anymail.webhooks.amazon_ses import AmazonSESBaseWebhookView
from anymail.webhooks.mailgun import MailgunBaseWebhookView
from django.conf import settings
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt

from newsletter.engagement.events import MalformedWebhook
from newsletter.models import WebhookSignature

log = logging.getLogger(__name__)


# What anymail's parsers raise on a body that is not the ESP's format: the
# overflow and OS errors for a timestamp no clock can hold
# (datetime.fromtimestamp), RecursionError for JSON nested thousands deep.
UNREADABLE = (
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
    OverflowError,
    OSError,
    RecursionError,
)


class RefusedWebhook(Exception):
    """An authentic-looking request that no retry will make acceptable: answered
    with 406, so that Mailgun stops retrying it."""


class _ReadablePayload:
    """Mixed into anymail's views: a payload anymail cannot read is the sender's fault."""

    def run_validators(self, request):
        try:
            return super().run_validators(request)
        except UNREADABLE as exc:
            raise MalformedWebhook(f"unreadable payload ({type(exc).__name__})") from exc

    def parse_events(self, request):
        try:
            return super().parse_events(request)
        except (*UNREADABLE, AnymailConfigurationError) as exc:
            raise MalformedWebhook(f"unreadable payload ({type(exc).__name__}: {exc})") from exc


class _MailgunSignatureOnce:
    """Mixed into Mailgun's view: its signature is fresh, and signs one body only."""

    def run_validators(self, request):
        super().run_validators(request)  # basic auth, and the signature itself
        if request.content_type == "application/json":
            block = json.loads(request.body.decode())["signature"]
        else:  # Mailgun's legacy webhooks post form fields
            block = request.POST
        signed_at = datetime.fromtimestamp(float(block["timestamp"]), tz=UTC)
        if not WebhookSignature.is_fresh(signed_at):
            raise RefusedWebhook(
                f"the Mailgun signature was made at {signed_at:%Y-%m-%d %H:%M:%S} UTC, "
                f"more than {WebhookSignature.MAX_AGE} from now"
            )
        if not WebhookSignature.accept(
            signature=block["signature"], signed_at=signed_at, body=request.body
        ):
            raise RefusedWebhook("this Mailgun signature was already used for another event")


class _ConfirmListedTopics:
    """Mixed into Amazon SES's view: it confirms subscriptions to our own topics only."""

    def auto_confirm_sns_subscription(self, sns_message):
        topic = sns_message.get("TopicArn")
        if topic not in settings.SES_SNS_TOPICS:
            raise AnymailWebhookValidationFailure(
                f"SNS topic {topic!r} is not listed in SES_SNS_TOPICS: subscription not "
                "confirmed (confirm it in the SNS console, or list the topic)"
            )
        return super().auto_confirm_sns_subscription(sns_message)


def _checks(view_class) -> tuple[type, ...]:
    """What we add to an anymail view, outermost first."""
    checks = [_ReadablePayload]
    if issubclass(view_class, MailgunBaseWebhookView):
        checks.append(_MailgunSignatureOnce)
    if issubclass(view_class, AmazonSESBaseWebhookView):
        checks.append(_ConfirmListedTopics)
    return tuple(checks)


def _authorized(request: HttpRequest) -> bool:
    secrets = get_anymail_setting("webhook_secret", default=[])
    if isinstance(secrets, str):
        secrets = [secrets] if secrets else []
    given = get_request_basic_auth(request) or ""
    return any(constant_time_compare(given, secret) for secret in secrets)


def _unauthorized() -> HttpResponse:
    response = HttpResponse("Webhook credentials missing or wrong.\n", status=401)
    response["WWW-Authenticate"] = 'Basic realm="Letterpress webhooks"'
    return response


def guarded_webhook(view, *, esp: str):
    """An anymail webhook view of this ESP (an EMAIL_BACKEND name: "mailgun",
    "amazon_ses") that is a 404 unless settings.ESP names it, answers 401 without
    WEBHOOK_SECRET basic auth, 400 for a payload it cannot read, 406 for a refused
    one, and applies a request's events all or not at all."""
    view_class = view.view_class
    checked = type(view_class.__name__, (*_checks(view_class), view_class), {})
    inner = checked.as_view(**view.view_initkwargs)

    @csrf_exempt
    @functools.wraps(inner)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if settings.ESP != esp:
            raise Http404("Webhooks of ESPs we do not send through are not mounted.")
        if request.method == "POST" and not _authorized(request):
            return _unauthorized()
        try:
            with transaction.atomic():
                return inner(request, *args, **kwargs)
        except (MalformedWebhook, AnymailError) as exc:
            log.warning("webhook %s refused: %s", request.path, exc)
            return HttpResponse(f"Bad webhook payload: {exc}\n", status=400)
        except RefusedWebhook as exc:
            log.warning("webhook %s refused: %s", request.path, exc)
            return HttpResponse(f"Webhook refused: {exc}.\n", status=406)
        except AnymailConfigurationError as exc:
            log.warning("webhook %s not configured: %s", request.path, exc)
            return HttpResponse("This webhook is not configured here.\n", status=404)

    return guarded


def webhook_urlpatterns() -> tuple[list, str]:
    """anymail's tracking URL patterns (same paths and names), each view guarded.
    Its inbound-mail ones are left out: nothing here reads inbound mail."""
    patterns = []
    for pattern in anymail_urls.urlpatterns:
        if pattern.callback.view_class.signal is inbound:
            continue
        # Named "<esp>_tracking_webhook", or "mandrill_webhook" (tracking and inbound).
        esp = pattern.name.removesuffix("_webhook").removesuffix("_tracking")
        guarded = copy.copy(pattern)
        guarded.callback = guarded_webhook(pattern.callback, esp=esp)
        patterns.append(guarded)
    return patterns, anymail_urls.app_name
