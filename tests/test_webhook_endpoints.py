"""Which ESP webhook endpoints answer: only the tracking endpoint of the ESP the
installation sends through, none on the local outbox or SMTP; what every one
answers to JSON nested thousands deep; and when the Amazon SES endpoint
confirms an SNS subscription, a call to AWS (here a loopback stand-in)."""

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from anymail import urls as anymail_urls
from django.urls.resolvers import RoutePattern

from newsletter.models import WebhookEvent
from subscribers.models import Subscription
from tests import esp_events
from tests.builders import make_delivery, make_newsletter, make_reader, make_sent_issue
from tests.esp_events import AUTH

pytestmark = [
    pytest.mark.django_db,
    # Building every ESP's view: anymail warns about its SendGrid and SendinBlue ones.
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailDeprecationWarning"),
]
webhook_settings = esp_events.webhook_settings

MAILGUN_ID = "20260101120000.1.ENDPOINTS@mg.example.com"

# Every endpoint anymail offers, inbound ones included.
ANYMAIL_PATHS = sorted(
    [
        f"/anymail/{pattern.pattern}"
        for pattern in anymail_urls.urlpatterns
        if isinstance(pattern.pattern, RoutePattern)
    ]
    + ["/anymail/mailgun/inbound/", "/anymail/mailgun/inbound_mime/"]
)
# Those that may answer, each to its own ESP: the tracking ones.
TRACKING = {path for path in ANYMAIL_PATHS if "/inbound" not in path}
ESPS = sorted({path.split("/")[2] for path in ANYMAIL_PATHS})


@pytest.fixture
def every_esp_configured(settings):
    """The webhook secret, and each ESP's own webhook key where anymail needs one."""
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "WEBHOOK_SECRET": esp_events.SECRET,
        "MAILGUN_WEBHOOK_SIGNING_KEY": esp_events.SIGNING_KEY,
        "MAILERSEND_SIGNING_SECRET": "mailersend-secret",
        "MANDRILL_WEBHOOK_KEY": "mandrill-key",
        "POSTAL_WEBHOOK_KEY": "cG9zdGFsLWtleQ==",
        "UNISENDER_GO_API_KEY": "unisender-key",
    }


@pytest.fixture
def alice():
    return make_reader(make_newsletter(), "alice@example.com")


@pytest.fixture
def mailgun_delivery(alice):
    return make_delivery(make_sent_issue(alice.newsletter), alice, message_id=f"<{MAILGUN_ID}>")


def post(client, path: str, body: str = "{}", **extra):
    return client.post(path, body, content_type="application/json", **AUTH, **extra)


def answering(client, settings, esp: str) -> set[str]:
    """The anymail paths that are not a 404 for an installation sending through esp."""
    settings.ESP = esp
    return {path for path in ANYMAIL_PATHS if post(client, path).status_code != 404}


@pytest.mark.parametrize("esp", ["", "smtp"], ids=["local outbox", "smtp"])
def test_no_webhook_answers_without_an_esp(client, every_esp_configured, settings, esp):
    assert answering(client, settings, esp) == set()


def test_only_the_tracking_endpoint_of_the_esp_we_send_through_answers(
    client, every_esp_configured, settings
):
    for esp in ESPS:
        own = {path for path in TRACKING if path.startswith(f"/anymail/{esp}/")}
        assert answering(client, settings, esp) == own, esp
    assert answering(client, settings, "mailgun") == {"/anymail/mailgun/tracking/"}
    assert answering(client, settings, "mandrill") == {
        "/anymail/mandrill/",
        "/anymail/mandrill/tracking/",
    }


def test_a_postmark_complaint_cannot_reach_a_mailgun_installation(
    client, webhook_settings, settings, mailgun_delivery, alice
):
    settings.ESP = "mailgun"
    complaint = esp_events.postmark_bounce("alice@example.com", MAILGUN_ID, kind="SpamComplaint")
    response = post(client, "/anymail/postmark/tracking/", json.dumps(complaint))
    assert response.status_code == 404
    alice.refresh_from_db()
    assert alice.status == Subscription.Status.CONFIRMED
    assert WebhookEvent.objects.count() == 0


DEEP = '{"a":' * 5000 + "1" + "}" * 5000


@pytest.mark.parametrize("path", sorted(TRACKING))
def test_json_nested_thousands_deep_is_a_400_on_every_tracking_endpoint(
    client, every_esp_configured, settings, mailgun_delivery, alice, path
):
    settings.ESP = path.split("/")[2]
    assert post(client, path, DEEP).status_code == 400
    assert post(client, path, f"[{DEEP}]").status_code == 400
    alice.refresh_from_db()
    assert alice.status == Subscription.Status.CONFIRMED
    assert WebhookEvent.objects.count() == 0


def test_json_nested_thousands_deep_in_a_signed_envelope_is_a_400(
    client, every_esp_configured, settings, mailgun_delivery, alice
):
    """Past the signature or the envelope that is checked first, to the parser."""
    settings.ESP = "mailersend"
    signature = hmac.new(b"mailersend-secret", DEEP.encode(), hashlib.sha256).hexdigest()
    mailersend = post(client, "/anymail/mailersend/tracking/", DEEP, HTTP_SIGNATURE=signature)

    settings.ESP = "mandrill"
    url = f"http://{esp_events.SECRET}@testserver/anymail/mandrill/tracking/"
    signed = hmac.new(b"mandrill-key", f"{url}mandrill_events{DEEP}".encode(), hashlib.sha1)
    mandrill = client.post(
        "/anymail/mandrill/tracking/",
        {"mandrill_events": DEEP},
        HTTP_X_MANDRILL_SIGNATURE=base64.b64encode(signed.digest()).decode(),
        **AUTH,
    )

    settings.ESP = "amazon_ses"
    notification = {"Type": "Notification", "MessageId": "1", "Message": DEEP}
    ses = post(
        client,
        "/anymail/amazon_ses/tracking/",
        json.dumps(notification),
        HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
        HTTP_X_AMZ_SNS_MESSAGE_ID="1",
    )
    for response in (mailersend, mandrill, ses):
        assert response.status_code == 400
        assert b"unreadable payload (RecursionError" in response.content
    alice.refresh_from_db()
    assert alice.status == Subscription.Status.CONFIRMED


# -- Amazon SES: SNS subscriptions ----------------------------------------------------

TOPIC = "arn:aws:sns:eu-west-1:123456789012:letterpress-tracking"
CONFIRMED = b"""<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
<ConfirmSubscriptionResult><SubscriptionArn>%s:1</SubscriptionArn></ConfirmSubscriptionResult>
<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></ConfirmSubscriptionResponse>"""


class AWS(BaseHTTPRequestHandler):
    """A loopback stand-in for AWS's API and SubscribeURL: it records every request."""

    received: list

    def log_message(self, format, *args):  # noqa: A002
        pass

    def _record(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append((self.command, self.path, parse_qs(body.decode())))
        reply = CONFIRMED % TOPIC.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = _record


@pytest.fixture
def aws(settings):
    """AWS calls from anymail's SES webhook go to the stand-in, with test credentials."""
    received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (AWS,), {"received": received}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "WEBHOOK_SECRET": esp_events.SECRET,
        "AMAZON_SES_CLIENT_PARAMS": {
            "endpoint_url": url,
            "aws_access_key_id": "test-key-id",
            "aws_secret_access_key": "test-secret",
        },
    }
    yield url, received
    server.shutdown()
    server.server_close()


def subscribe(client, aws_url: str, topic: str = TOPIC):
    """An SNS SubscriptionConfirmation posted to the SES tracking endpoint."""
    message = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "confirm-token",
        "TopicArn": topic,
        "Message": f"You have chosen to subscribe to the topic {topic}.",
        "SubscribeURL": f"{aws_url}/?Action=ConfirmSubscription&Token=confirm-token",
        "Timestamp": "2026-01-01T12:00:00.000Z",
    }
    return post(
        client,
        "/anymail/amazon_ses/tracking/",
        json.dumps(message),
        HTTP_X_AMZ_SNS_MESSAGE_TYPE=message["Type"],
        HTTP_X_AMZ_SNS_MESSAGE_ID=message["MessageId"],
    )


def test_an_sns_subscription_is_not_confirmed_when_we_send_through_another_esp(
    client, settings, aws
):
    settings.ESP = "mailgun"
    settings.SES_SNS_TOPICS = [TOPIC]
    url, received = aws
    assert subscribe(client, url).status_code == 404
    assert received == []


def test_an_sns_subscription_to_a_topic_not_ours_is_not_confirmed(client, settings, aws):
    settings.ESP = "amazon_ses"
    settings.SES_SNS_TOPICS = [TOPIC]
    url, received = aws
    response = subscribe(client, url, topic="arn:aws:sns:eu-west-1:666666666666:mallory")
    assert response.status_code == 400
    assert b"not listed in SES_SNS_TOPICS" in response.content
    assert received == []


def test_an_sns_subscription_to_our_topic_is_confirmed_with_aws(client, settings, aws):
    settings.ESP = "amazon_ses"
    settings.SES_SNS_TOPICS = [TOPIC]
    url, received = aws
    assert subscribe(client, url).status_code == 200
    [(method, _, form)] = received
    assert (method, form["Action"], form["TopicArn"]) == ("POST", ["ConfirmSubscription"], [TOPIC])
    assert form["Token"] == ["confirm-token"]
