import hashlib
import zoneinfo
from datetime import datetime, timedelta
from email.headerregistry import Address
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce, Greatest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import slugify
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from mail.text import markdown_html
from newsletter.validators import (
    origin_of,
    validate_accent_contrast,
    validate_http_url,
    validate_origins,
)

# How an issue's date is written everywhere readers see it (Issue.date_text):
# "30 November 2026" in English; in another language, its own long date as
# Django's locale writes it ("30. November 2026", "30 novembre 2026",
# "30 de noviembre de 2026").
ISSUE_DATE_FORMATS = {"en": "j F Y"}

hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #1a73e8.")


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known time zone (try Europe/London).")


class Newsletter(models.Model):
    class Weekday(models.IntegerChoices):
        MONDAY = 0
        TUESDAY = 1
        WEDNESDAY = 2
        THURSDAY = 3
        FRIDAY = 4
        SATURDAY = 5
        SUNDAY = 6

    class WeekOfMonth(models.IntegerChoices):
        FIRST = 1
        SECOND = 2
        THIRD = 3
        FOURTH = 4
        LAST = -1

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(blank=True, max_length=1000, help_text="Markdown.")
    tagline = models.CharField(
        max_length=150,
        blank=True,
        help_text="One line about this newsletter, under its name in its siblings' footers.",
    )
    organisation = models.CharField(
        max_length=100,
        blank=True,
        help_text='Who publishes it: the footer says "More from <organisation>" '
        "(the sender's name when empty).",
    )
    is_public = models.BooleanField(default=True, help_text="Listed on the signup index.")
    language = models.CharField(
        max_length=8,
        choices=settings.LANGUAGES,
        default="en",
        help_text="What readers' pages and emails around your words speak: signup, confirmation, "
        "footer, unsubscribe, dates. Your own text is never translated.",
    )
    sender_name = models.CharField(max_length=100)
    sender_email = models.EmailField()
    reply_to = models.EmailField(blank=True)
    postal_address = models.TextField(max_length=500, help_text="Legal footer of every email.")
    accent_colour = models.CharField(
        max_length=7, default="#1a73e8", validators=[hex_colour, validate_accent_contrast]
    )
    feedback_ask = models.CharField(
        max_length=200, blank=True, default="How did you like this issue?"
    )

    # Cadence: e.g. the first Tuesday of the month at 09:00 Europe/London.
    cadence_week = models.SmallIntegerField(choices=WeekOfMonth, default=WeekOfMonth.FIRST)
    cadence_weekday = models.SmallIntegerField(choices=Weekday, default=Weekday.TUESDAY)
    cadence_time = models.TimeField(default="09:00")
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    reminder_days = models.PositiveSmallIntegerField(
        default=3, help_text="Remind editors this many days before a send whose draft is empty."
    )

    # Several calls a task on a batch API, so that each call is built while the one
    # before is out: at a second an answer, 1,758 emails/s in tasks of 5,000 against
    # 1,578 in tasks of one call (bench/send_throughput.py --latency 1).
    batch_size = models.PositiveIntegerField(
        default=5000,
        validators=[MinValueValidator(1), MaxValueValidator(10000)],
        help_text="Readers per batch task. Through a batch API (Mailgun, SendGrid, …) a "
        "task makes one call per 1,000 readers (or the ESP's limit), each built while "
        "the one before is out; when each reader gets their own request, a task holds "
        "at most 250.",
    )
    send_rate = models.PositiveIntegerField(
        default=500,
        help_text="Messages per second across all workers.",
        validators=[MinValueValidator(1)],
    )
    welcome_enabled = models.BooleanField(default=True, help_text="Email a welcome on confirming.")
    click_tracking = models.BooleanField(default=True)
    per_subscriber_tracking = models.BooleanField(
        default=True, help_text="Record which reader clicked, not only how many clicks."
    )
    siblings = models.ManyToManyField(
        "self", blank=True, symmetrical=False, help_text="Named in every email's footer."
    )
    embed_origins = models.TextField(
        "Sites that may embed the signup form",
        blank=True,
        max_length=2000,
        validators=[validate_origins],
        help_text="One origin per line, like https://blog.example.org. Only these sites may "
        "show the signup form in an iframe, and a signup may return only to them.",
    )
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("archive_newsletter", args=[self.slug])

    @property
    def listed_origins(self) -> list[str]:
        """The origins in embed_origins, as browsers write them."""
        found = (origin_of(line) for line in self.embed_origins.splitlines() if line.strip())
        return list(dict.fromkeys(origin for origin in found if origin))

    def lists_origin(self, url: str) -> bool:
        """Is this URL on one of the sites the editor listed?"""
        origin = origin_of(url)
        return origin is not None and origin in self.listed_origins

    @property
    def from_email(self) -> str:
        """The From header: the name quoted where it needs it ("Ada, Editor" has a
        comma, which would otherwise make two addresses of one)."""
        return str(Address(display_name=self.sender_name, addr_spec=self.sender_email))

    def next_issue_number(self) -> int:
        last = self.issues.aggregate(models.Max("number"))["number__max"]
        return (last or 0) + 1

    def description_html(self) -> str:
        return markdown_html(self.description)


class IssueQuerySet(models.QuerySet):
    def archived(self) -> "IssueQuerySet":
        """Sent issues of public newsletters: what the archive and feeds list."""
        return self.filter(status=Issue.Status.SENT, newsletter__is_public=True)

    def readable(self) -> "IssueQuerySet":
        """Issues whose web page may be opened: subscribers get its link during the send."""
        return self.filter(status__in=Issue.PUBLIC_STATUSES)

    def with_last_change(self) -> "IssueQuerySet":
        """Each issue with `last_change`: when its page last changed (an edit, the
        end of its send, a correction of one of its links), for the sitemap's
        lastmod and the feed's <updated>."""
        corrected = LinkCorrection.objects.filter(link__section__issue=models.OuterRef("pk"))
        latest = corrected.order_by("-corrected_at").values("corrected_at")[:1]
        return self.annotate(
            last_change=Greatest(
                "updated",
                Coalesce("sent_at", "updated"),
                Coalesce(models.Subquery(latest), "updated"),
            )
        )


class Issue(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        SCHEDULED = "scheduled"
        SENDING = "sending"
        PAUSED = "paused"
        SENT = "sent"
        CANCELLED = "cancelled"

    newsletter = models.ForeignKey(Newsletter, on_delete=models.PROTECT, related_name="issues")
    number = models.PositiveIntegerField()
    subject = models.CharField(max_length=200)
    preheader = models.CharField(
        max_length=150, blank=True, help_text="The preview line inboxes show after the subject."
    )
    slug = models.SlugField(max_length=80)
    intro = models.TextField(blank=True, max_length=20000, help_text="Markdown.")
    sign_off = models.TextField(blank=True, max_length=5000, help_text="Markdown.")
    status = models.CharField(max_length=10, choices=Status, default=Status.DRAFT)
    send_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)
    # Sending bookkeeping (newsletter.sending): when the send started, when every
    # reader had a Delivery row, and when editors were reminded of an empty draft.
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    planned_at = models.DateTimeField(null=True, blank=True, editable=False)
    reminder_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Pre-flight (newsletter.curation.preflight): made by draft_next_issue, whose
    # subject is a placeholder; and the content a test last went out with.
    auto_drafted = models.BooleanField(default=False, editable=False)
    test_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    test_digest = models.CharField(max_length=64, blank=True, editable=False)

    objects = IssueQuerySet.as_manager()

    PUBLIC_STATUSES = (Status.SENDING, Status.PAUSED, Status.SENT)

    # The issue's life, declared once: each action, the statuses it may be taken
    # from, and the status it leads to (None: it leaves the status as it is).
    # The sending services move an issue only along these, and the admin offers
    # a button only where one applies.
    ACTIONS = {
        "schedule": ((Status.DRAFT, Status.SCHEDULED), Status.SCHEDULED),
        "unschedule": ((Status.SCHEDULED,), Status.DRAFT),
        "start": ((Status.SCHEDULED,), Status.SENDING),  # the beat, at send_at
        "send_now": ((Status.DRAFT, Status.SCHEDULED), Status.SENDING),
        "pause": ((Status.SENDING,), Status.PAUSED),
        "resume": ((Status.PAUSED,), Status.SENDING),
        "cancel": ((Status.SCHEDULED, Status.SENDING, Status.PAUSED), Status.CANCELLED),
        "finish": ((Status.SENDING,), Status.SENT),  # once every reader is settled
        "resend": ((Status.SENDING, Status.PAUSED, Status.SENT), None),  # "resend these"
        # Content (subject, sections, links) changes only before the send starts.
        "edit": ((Status.DRAFT, Status.SCHEDULED), None),
    }

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["newsletter", "number"], name="issue_number_unique"),
            models.UniqueConstraint(fields=["newsletter", "slug"], name="issue_slug_unique"),
        ]
        indexes = [models.Index(fields=["status", "send_at"])]
        permissions = [
            ("send_issue", "Can schedule, send, pause and cancel issues"),
            ("correct_link", "Can correct a link of an issue already sent"),
        ]

    def __str__(self) -> str:
        return f"{self.newsletter.name} #{self.number}: {self.subject}"

    # What readers get: frozen with the sections and links once the send starts.
    CONTENT_FIELDS = ("newsletter", "number", "slug", "subject", "preheader", "intro", "sign_off")

    def save(self, *args, **kwargs) -> None:
        if not self.slug:
            self.slug = issue_slug(self.number, self.subject)
        if not self._state.adding:
            stored = Issue.objects.filter(pk=self.pk).values(*self.CONTENT_FIELDS, "status").first()
            editable = self.ACTIONS["edit"][0]
            if stored and stored["status"] not in editable and self.status in editable:
                raise IssueFrozen(self.pk, stored["status"])  # no way back to editing
            if stored and stored["status"] not in editable:
                changed = [
                    f
                    for f in self.CONTENT_FIELDS
                    if stored[f] != getattr(self, self._meta.get_field(f).attname)
                ]
                if changed:
                    raise IssueFrozen(self.pk, stored["status"])
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("issue_web", args=[self.newsletter.slug, self.slug])

    def delete(self, *args, **kwargs):
        refuse_unless_editable(self.pk)
        return super().delete(*args, **kwargs)

    @property
    def is_public(self) -> bool:
        return self.status in self.PUBLIC_STATUSES

    def can(self, action: str) -> bool:
        """May `action` (a key of ACTIONS) be taken in the issue's current status?"""
        return self.status in self.ACTIONS[action][0]

    @property
    def date(self):
        """The date readers associate with the issue: when its send started (one
        value for the whole send, a long one past midnight included), or when it
        is planned to."""
        return self.started_at or self.sent_at or self.send_at

    @property
    def date_text(self) -> str:
        """The issue's date as its email, web page, archive and feed all show it:
        "30 November 2026", in the newsletter's time zone and in the language
        being spoken (ISSUE_DATE_FORMATS)."""
        if self.date is None:
            return ""
        local = self.date.astimezone(zoneinfo.ZoneInfo(self.newsletter.time_zone))
        return date_format(local, ISSUE_DATE_FORMATS.get(get_language(), "DATE_FORMAT"))

    def placeholder_subject(self) -> str:
        """The subject an automatic draft starts with: not one to send."""
        return f"{self.newsletter.name} #{self.number}"

    def content_digest(self) -> str:
        """Changes whenever what readers would get changes: the issue's content
        fields, its sections and their links, as stored now."""
        fields = Issue.objects.filter(pk=self.pk).values_list(*self.CONTENT_FIELDS).first()
        sections = list(self.sections.values_list("pk", "position", "title", "intro"))
        links = list(
            Link.objects.filter(section__issue=self.pk)
            .order_by("section_id", "position", "pk")
            .values_list("section_id", "position", "title", "url", "commentary", "source")
        )
        return hashlib.sha256(repr((fields, sections, links)).encode()).hexdigest()


class IssueFrozen(Exception):
    """An issue's content (fields, sections, links) changes only in draft and
    scheduled (Issue.ACTIONS["edit"]): readers hold its links, and later batches
    of a send must carry what the first ones did. A sent link is corrected only
    through newsletter.corrections, on the record."""

    def __init__(self, issue_id: int, status: str):
        super().__init__(f"Issue {issue_id} is {status}: its content can no longer change.")


def refuse_unless_editable(issue_id: int | None) -> None:
    """IssueFrozen unless the issue (read now, not from a cached instance) may be edited."""
    if issue_id is None:
        return
    status = Issue.objects.filter(pk=issue_id).values_list("status", flat=True).first()
    if status is not None and status not in Issue.ACTIONS["edit"][0]:
        raise IssueFrozen(issue_id, status)


class FrozenWithIssue(models.Model):
    """A part of an issue's content: saved and deleted only while the issue may
    be edited, the issue it belongs to now and the one it would move to alike
    (a sent issue's link moved into a draft would leave the sent one changed)."""

    # The lookup from this model to its issue's id, for the row as stored.
    ISSUE_LOOKUP = ""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            refuse_unless_editable(self.stored_issue_id())
        refuse_unless_editable(self.issue_id_of())
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        refuse_unless_editable(self.stored_issue_id())
        return super().delete(*args, **kwargs)

    def stored_issue_id(self) -> int | None:
        rows = type(self).objects.filter(pk=self.pk)
        return rows.values_list(self.ISSUE_LOOKUP, flat=True).first()

    def issue_id_of(self) -> int | None:
        """The issue this instance, as it is in memory, belongs to."""
        raise NotImplementedError


def issue_slug(number, subject: str) -> str:
    """'7-the-gpt3-issue': the number keeps it unique, the words make it readable."""
    words = slugify(subject)[:60].rstrip("-")
    return f"{number}-{words}" if words else str(number)


class Section(FrozenWithIssue):
    ISSUE_LOOKUP = "issue_id"

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="sections")
    position = models.PositiveIntegerField(default=0)
    title = models.CharField(max_length=200)
    intro = models.TextField(blank=True, max_length=10000, help_text="Markdown.")

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title

    def issue_id_of(self) -> int | None:
        return self.issue_id


class Link(FrozenWithIssue):
    ISSUE_LOOKUP = "section__issue_id"

    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="links")
    position = models.PositiveIntegerField(default=0)
    # Blank until filled in from the page (newsletter.curation.filling) or by the editor.
    title = models.CharField(max_length=300, blank=True)
    url = models.URLField("URL", max_length=2000, validators=[validate_http_url])
    commentary = models.TextField(blank=True, max_length=10000, help_text="Markdown.")
    source = models.CharField(max_length=100, blank=True, help_text="e.g. “Google AI blog”.")
    summary = models.TextField(blank=True, max_length=1000, editable=False)
    page_error = models.CharField(max_length=300, blank=True, editable=False)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.shown_title

    @property
    def shown_title(self) -> str:
        """What readers see as the link's title: the page's host until it has one."""
        return self.title or urlsplit(self.url).hostname or self.url

    def issue_id_of(self) -> int | None:
        if self.section_id is None:
            return None
        return Section.objects.filter(pk=self.section_id).values_list("issue_id", flat=True).first()


class InboxLink(models.Model):
    """A link collected for a newsletter during the month (bookmarklet, `add_link`,
    a paste), waiting to be moved into an issue. One entry per page: `url_key`
    is the digest of its canonical form (newsletter.curation.urls)."""

    newsletter = models.ForeignKey(Newsletter, on_delete=models.CASCADE, related_name="inbox")
    url = models.URLField("URL", max_length=2000, validators=[validate_http_url])
    url_key = models.CharField(max_length=64, editable=False)
    note = models.TextField(blank=True, max_length=2000, help_text="Your note for later.")
    title = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=100, blank=True)
    summary = models.TextField(blank=True, max_length=1000)
    page_error = models.CharField(max_length=300, blank=True, editable=False)
    page_fetched_at = models.DateTimeField(null=True, blank=True, editable=False)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-added_at", "-id"]
        verbose_name = "inbox link"
        constraints = [
            models.UniqueConstraint(fields=["newsletter", "url_key"], name="inbox_link_once"),
        ]

    def __str__(self) -> str:
        return self.title or self.url


class LinkCorrection(models.Model):
    """A sent issue's link pointed elsewhere, on the record: who, when, from what, to what, why."""

    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="corrections")
    old_url = models.URLField(max_length=2000)
    new_url = models.URLField(max_length=2000)
    reason = models.CharField(max_length=300)
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    corrected_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-corrected_at", "-id"]

    def __str__(self) -> str:
        return f"{self.old_url} → {self.new_url}"


class Delivery(models.Model):
    """One issue to one subscriber: the outbox row of the send pipeline."""

    class State(models.TextChoices):
        PLANNED = "planned"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"
        AMBIGUOUS = "ambiguous"
        SKIPPED = "skipped", _("skipped (no longer subscribed)")

    # Every Delivery is written three times per send (planned, sending, sent), each
    # time into every index: so no index that another one covers. Lookups by issue
    # use delivery_once or delivery_progress, whose first column it is; the
    # sweeper finds rows stuck in `sending` issue by issue through the latter.
    issue = models.ForeignKey(
        Issue, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    subscriber = models.ForeignKey(
        "subscribers.Subscriber", on_delete=models.CASCADE, related_name="deliveries"
    )
    state = models.CharField(max_length=10, choices=State, default=State.PLANNED)
    batch = models.PositiveIntegerField()
    # Which batch task run holds the row while it is `sending`: only that run records it.
    claim = models.CharField(max_length=32, blank=True)
    # A planned row waits for its batch task until then (later after a retryable error).
    next_attempt_at = models.DateTimeField(default=timezone.now)
    message_id = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created = models.DateTimeField(default=timezone.now)
    # When the state last changed: the sweeper finds rows stuck in `sending` by it.
    updated = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    complained_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["issue", "subscriber"], name="delivery_once"),
        ]
        indexes = [
            # A batch's planned rows, an issue's unsettled rows, its counts per state.
            models.Index(fields=["issue", "state", "batch"], name="delivery_progress"),
            # Partial: only sent rows have a message id, so the other writes skip it.
            models.Index(
                fields=["message_id"], condition=~Q(message_id=""), name="delivery_message_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.issue} → {self.subscriber_id} ({self.state})"

    def note_first(self, field: str, when) -> None:
        """Set an engagement time (delivered_at, clicked_at, ...) unless an earlier
        one is recorded: the earliest stays, whatever order events arrive in."""
        Delivery.objects.filter(
            Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gt": when}), pk=self.pk
        ).update(**{field: when})


class LinkCheck(models.Model):
    """What a URL answered when the pre-flight last asked (newsletter.curation.link_checks).

    In the database rather than the cache: the worker checks and the web
    process shows, and the embedded default's cache is per process; a row also
    says that a check is under way. A result is used for an hour.
    """

    class Outcome(models.TextChoices):
        OK = "ok"
        REDIRECT = "redirect"
        DEAD = "dead"
        NOT_PUBLIC = "not_public", "not a public address"

    url_sha256 = models.CharField(max_length=64, unique=True)
    url = models.TextField()
    requested_at = models.DateTimeField(default=timezone.now)
    checked_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome, blank=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True)  # the last HTTP answer
    final_url = models.TextField(blank=True)  # where redirects end
    reason = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"{self.url}: {self.outcome or 'checking'}"

    @staticmethod
    def key(url: str) -> str:
        return hashlib.sha256(url.encode()).hexdigest()


# -- Engagement: ESP webhooks, clicks, reader feedback -------------------------


class WebhookEvent(models.Model):
    """An ESP event already applied: a replayed webhook finds it here and changes nothing."""

    esp = models.CharField(max_length=40)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=20)
    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="webhook_events", null=True
    )
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["esp", "event_id"], name="webhook_event_once"),
        ]
        indexes = [models.Index(fields=["delivery", "event_type"])]

    def __str__(self) -> str:
        return f"{self.esp} {self.event_type} {self.event_id}"


class WebhookSignature(models.Model):
    """A Mailgun signature block already accepted, with the body it came with.

    Mailgun signs its timestamp and a random token, not the event: a signature
    is accepted only within MAX_AGE of its timestamp, and with one body only.
    Mailgun's own retry of a request carries the same signature and the same
    body, and changes nothing as its events are applied once (WebhookEvent).
    Rows are forgotten once their timestamp is too old to be accepted anyway
    (by the sweeper). The unique signature makes two web processes that take
    the same one at once agree: the second waits for the first to commit.
    """

    # Mailgun warns of delays on its side; its retries keep the first timestamp,
    # so one it makes after a request we failed (10 minutes on) comes too late.
    MAX_AGE = timedelta(minutes=10)

    signature = models.CharField(max_length=64, unique=True)
    signed_at = models.DateTimeField(db_index=True)
    body_sha256 = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"{self.signature[:12]}… signed at {self.signed_at:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def is_fresh(cls, signed_at: datetime, now: datetime | None = None) -> bool:
        """Within MAX_AGE of now, either way (clocks differ, Mailgun's queue waits)."""
        return abs((now or timezone.now()) - signed_at) <= cls.MAX_AGE

    @classmethod
    def accept(cls, *, signature: str, signed_at: datetime, body: bytes) -> bool:
        """Take a fresh signature for this body; False if it came before with another."""
        digest = hashlib.sha256(body).hexdigest()
        seen, _ = cls.objects.get_or_create(
            signature=signature, defaults={"signed_at": signed_at, "body_sha256": digest}
        )
        return seen.body_sha256 == digest

    @classmethod
    def forget_expired(cls, now: datetime | None = None) -> int:
        """Forget the signatures is_fresh() would refuse by now; how many."""
        too_old = (now or timezone.now()) - cls.MAX_AGE
        return cls.objects.filter(signed_at__lt=too_old).delete()[0]


class ProseLink(models.Model):
    """A link inside an issue's prose (its intro, sign-off, a section's intro, a
    link's commentary), stored when the email is rendered so that /l/ sends the
    reader only to a URL stored here, never to one taken from the request.

    Derived from the issue's content, so made for a sent issue too (its content
    is frozen): rows of URLs since edited out stay, and old test emails work."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="prose_links")
    # Where it first appears; empty for the issue's own intro and sign-off.
    section = models.ForeignKey(
        Section, on_delete=models.SET_NULL, related_name="prose_links", null=True, blank=True
    )
    url = models.URLField("URL", max_length=2000)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issue", "url"], name="prose_link_once"),
        ]

    def __str__(self) -> str:
        return self.url


class Click(models.Model):
    """One follow of a tracked link (a link's title, or a link in the prose);
    delivery is empty when readers are not tracked. Scanner clicks (mail
    scanners, link previewers) are kept apart from readers' (human), with the
    reason they were judged so: newsletter.engagement.clicks."""

    class Kind(models.TextChoices):
        HUMAN = "human"
        SCANNER = "scanner"

    link = models.ForeignKey(
        Link, on_delete=models.CASCADE, related_name="clicks", null=True, blank=True
    )
    prose = models.ForeignKey(
        ProseLink, on_delete=models.CASCADE, related_name="clicks", null=True, blank=True
    )
    delivery = models.ForeignKey(
        Delivery, on_delete=models.SET_NULL, related_name="clicks", null=True, blank=True
    )
    created = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=10, choices=Kind, default=Kind.HUMAN)
    reason = models.CharField(max_length=80, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(link__isnull=False, prose__isnull=True)
                | Q(link__isnull=True, prose__isnull=False),
                name="click_on_one_link",
            ),
        ]

    def __str__(self) -> str:
        return f"click on {self.link_id or f'prose {self.prose_id}'}"


class Feedback(models.Model):
    """A reader's answer to the newsletter's feedback ask: one per delivery, the latest wins."""

    class Answer(models.TextChoices):
        LOVED = "loved", _("👍 Loved it")
        OK = "ok", _("😐 It was OK")
        NOT_FOR_ME = "no", _("👎 Not for me")

    delivery = models.OneToOneField(Delivery, on_delete=models.CASCADE, related_name="feedback")
    answer = models.CharField(max_length=10, choices=Answer)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "feedback"

    def __str__(self) -> str:
        return f"{self.delivery_id}: {self.answer}"


# -- The archive's library: search, link pages, sources ---------------------------


NEWEST_FIRST = ["newsletter", "-issue_number", "position"]


class ArchiveEntry(models.Model):
    """A link of the public archive as search and the link pages read it: its
    words with its section's and issue's, in plain text, and where it sits.

    Derived from sent issues of public newsletters only, whose content no
    longer changes (IssueFrozen), and kept in step by newsletter.library.index
    before each read. Each database matches words its own way on top of these
    columns (newsletter.library.schema): PostgreSQL a stored tsvector in the
    newsletter's language, SQLite an FTS5 table."""

    link = models.OneToOneField(Link, on_delete=models.CASCADE, related_name="archive_entry")
    # Every lookup starts from the newsletter: the indexes below lead with it.
    newsletter = models.ForeignKey(
        Newsletter, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="+")
    issue_number = models.PositiveIntegerField()
    position = models.PositiveIntegerField()  # its place in the issue, counted across sections
    year = models.PositiveSmallIntegerField()  # of the issue's date, in the newsletter's zone
    site = models.CharField(max_length=255)  # its source, or the host of its URL
    language = models.CharField(max_length=8)  # the newsletter's, when indexed
    title = models.CharField(max_length=300)
    source = models.CharField(max_length=100, blank=True)
    commentary = models.TextField(blank=True)
    section_title = models.CharField(max_length=200, blank=True)
    issue_text = models.TextField(blank=True)  # the issue's subject and intro
    indexed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "archive entries"
        indexes = [
            models.Index(fields=["newsletter", "issue", "language"], name="archive_entry_issue"),
            # Each filter with the order lists are read in, newest first: SQLite
            # then reads only the rows it shows.
            models.Index(fields=NEWEST_FIRST, name="archive_entry_new"),
            models.Index(
                fields=["newsletter", "year", *NEWEST_FIRST[1:]], name="archive_entry_year"
            ),
            models.Index(
                fields=["newsletter", "site", *NEWEST_FIRST[1:]], name="archive_entry_site"
            ),
        ]

    def __str__(self) -> str:
        return self.title
