"""What the API takes and gives, as pydantic schemas (and so the OpenAPI
document): strings that PostgreSQL and our emails can hold, ids within a
64-bit key, every error a Problem."""

from datetime import datetime
from typing import Annotated

from ninja import Field, Schema
from pydantic import AfterValidator

MAX_ID = 2**63 - 1


def _storable(value: str) -> str:
    """No NUL (PostgreSQL text cannot hold it) and no lone surrogate (no
    encoding can): a clear 422 rather than a database error."""
    if any(char == "\x00" or 0xD800 <= ord(char) <= 0xDFFF for char in value):
        raise ValueError("must not contain NUL or unpaired surrogate characters")
    return value


Text = Annotated[str, AfterValidator(_storable)]
Slug = Annotated[str, Field(max_length=60, pattern=r"^[-a-zA-Z0-9_]+$")]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class Problem(Schema):
    type: str = Field(examples=["about:blank"])
    title: str
    status: int
    detail: str
    errors: list[dict] | None = None


# -- newsletters -----------------------------------------------------------------


class NewsletterOut(Schema):
    slug: str
    name: str
    description: str
    is_public: bool
    sender_name: str
    sender_email: str
    time_zone: str


# -- subscribers -----------------------------------------------------------------


class SubscriptionOut(Schema):
    newsletter: str = Field(description="The newsletter's slug.")
    status: str = Field(examples=["pending", "confirmed", "unsubscribed", "bounced"])
    created: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None


class SubscriberOut(Schema):
    id: int
    email: str
    name: str
    created: datetime
    consent_at: datetime | None
    consent_source: str
    subscriptions: list[SubscriptionOut]


class SubscriberPage(Schema):
    items: list[SubscriberOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class SubscriberIn(Schema):
    email: Annotated[Text, Field(max_length=254)]
    name: Annotated[Text, Field(max_length=100)] = ""
    newsletters: Annotated[list[Slug], Field(min_length=1, max_length=50)]
    confirmed: bool = Field(
        False,
        description="True: subscribed at once, without a confirmation email; needs "
        "consent_reason. False (the default): double opt-in, a confirmation email goes.",
    )
    consent_reason: Annotated[Text, Field(max_length=300)] = Field(
        "", description="How the reader agreed (kept as their consent record)."
    )


class SubscriberChange(Schema):
    name: Annotated[Text, Field(max_length=100)] | None = None
    newsletters: Annotated[list[Slug], Field(max_length=50)] | None = Field(
        None,
        description="The newsletters the reader is on afterwards: the others are "
        "unsubscribed; new ones get a confirmation email, unless confirmed.",
    )
    confirmed: bool = False
    consent_reason: Annotated[Text, Field(max_length=300)] = ""


class UnsubscribeIn(Schema):
    newsletter: Slug | None = Field(None, description="Only this one; all when left out.")
    reason: Annotated[Text, Field(max_length=500)] = ""


# -- issues ------------------------------------------------------------------------


class LinkOut(Schema):
    url: str
    title: str
    source: str
    commentary: str
    position: int


class SectionOut(Schema):
    title: str
    intro: str
    position: int
    links: list[LinkOut]


class IssueSummary(Schema):
    id: int
    newsletter: str
    number: int
    subject: str
    status: str
    send_at: datetime | None
    sent_at: datetime | None
    web_url: str | None = Field(description="Its page, once readers may open it.")


class IssueOut(IssueSummary):
    preheader: str
    intro: str
    sign_off: str
    sections: list[SectionOut]


class LinkIn(Schema):
    url: Annotated[Text, Field(max_length=2000)]
    title: Annotated[Text, Field(max_length=300)] = ""
    commentary: Annotated[Text, Field(max_length=10000)] = ""


class SectionIn(Schema):
    title: Annotated[Text, Field(min_length=1, max_length=200)]
    intro: Annotated[Text, Field(max_length=10000)] = ""
    links: Annotated[list[LinkIn], Field(max_length=100)] = []


class IssueIn(Schema):
    newsletter: Slug
    subject: Annotated[Text, Field(min_length=1, max_length=200)]
    preheader: Annotated[Text, Field(max_length=150)] = ""
    intro: Annotated[Text, Field(max_length=20000)] = ""
    sign_off: Annotated[Text, Field(max_length=5000)] = ""
    sections: Annotated[list[SectionIn], Field(max_length=50)] = []


# -- the link inbox ------------------------------------------------------------------


class InboxLinkIn(Schema):
    newsletter: Slug
    url: Annotated[Text, Field(max_length=2000)]
    note: Annotated[Text, Field(max_length=2000)] = ""


class InboxLinkOut(Schema):
    id: int
    newsletter: str
    url: str
    note: str
    title: str
    source: str
    summary: str
    page_error: str
    added_at: datetime
