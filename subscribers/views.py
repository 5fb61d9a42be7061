"""Public pages for readers: signup, confirm, unsubscribe (page and RFC 8058
one-click), preferences, and a reader's own data. A GET never changes anything
(mail scanners follow links); a POST acts. Thin: the work is in
subscribers.subscriptions and subscribers.reader_data.

Each page speaks the language of the newsletter it is about (mail.languages):
the one in the address, or the one the signed link was made for; a page that
knows none speaks the site's."""

import ipaddress
from dataclasses import dataclass
from functools import partial, wraps

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from mail import tokens
from mail.languages import speaking
from mail.text import markdown_html
from newsletter.models import Newsletter
from subscribers import addresses, embed, form_limits, reader_data, subscriptions
from subscribers.forms import PreferencesForm, SignupForm, UnsubscribeForm
from subscribers.models import Subscriber, Subscription
from subscribers.subscriptions import Consent

GET_POST = require_http_methods(["GET", "HEAD", "POST"])


class BadLink(Exception):
    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


def _payload(purpose: str, token: str, *, any_age: bool = False) -> dict:
    """A good token's payload. An expired one raises ExpiredToken (its payload
    is still ours: a page offers a fresh link), unless any_age; any other bad
    token is BadLink(400)."""
    try:
        return tokens.read_token(purpose, token)
    except tokens.ExpiredToken as exc:
        if any_age:
            return exc.payload
        raise
    except tokens.BadToken as exc:
        raise BadLink(400) from exc


def _subscription_for(purpose: str, token: str, *, any_age: bool = False) -> Subscription:
    """The subscription a signed link names; both its id and its newsletter must match."""
    return _subscription_in(_payload(purpose, token, any_age=any_age))


def _subscription_in(payload: dict) -> Subscription:
    s, n = payload.get("s"), payload.get("n")
    if not isinstance(s, int) or not isinstance(n, int):
        raise BadLink(400)
    subscription = (
        Subscription.objects.select_related("subscriber", "newsletter")
        .filter(pk=s, newsletter_id=n)
        .first()
    )
    if subscription is None:
        raise BadLink(404)
    return subscription


@dataclass(frozen=True)
class Reader:
    """The reader a preferences, data or erase link names, and the newsletter
    the link came from: its pages speak that newsletter's language."""

    subscriber: Subscriber
    newsletter: Newsletter | None


def _reader_for(purpose: str, token: str) -> Reader:
    """The reader a preferences, data or erase link names."""
    return _reader_in(_payload(purpose, token))


def _reader_in(payload: dict) -> Reader:
    p, n = payload.get("p"), payload.get("n")
    subscriber = Subscriber.objects.filter(pk=p).first() if isinstance(p, int) else None
    if subscriber is None:
        raise BadLink(404)
    # Links made before they named a newsletter: the one the reader's own emails come from.
    newsletter = Newsletter.objects.filter(pk=n).first() if isinstance(n, int) else None
    return Reader(subscriber, newsletter or subscriptions.speaking_for(subscriber))


def signed_link(find, *, expired=None, bad=None):
    """Resolve the view's token with find(token) and pass what it names to the
    view. A bad link gets the friendly page (or bad(request, status)), an
    expired one expired(request, token, payload); the view does not run. The
    view speaks the language of the newsletter the link names.

    Every answer names a reader, so none is kept by a browser or a proxy:
    this is the one place of the no-store header for pages behind a link.
    """
    bad = bad or _bad_link

    def decorate(view):
        @wraps(view)
        def wrapper(request: HttpRequest, token: str) -> HttpResponse:
            try:
                found = find(token)
            except tokens.ExpiredToken as exc:
                response = expired(request, token, exc.payload) if expired else bad(request, 400)
            except BadLink as exc:
                response = bad(request, exc.status)
            else:
                with speaking(found.newsletter):
                    response = view(request, token, found)
            add_never_cache_headers(response)
            return response

        return wrapper

    return decorate


def _page(request, template: str, newsletter=None, status: int = 200, **context) -> HttpResponse:
    if newsletter is not None:
        context |= {"newsletter": newsletter, "accent": newsletter.accent_colour}
    return render(request, f"subscribers/{template}", context, status=status)


def _bad_link(request, status: int) -> HttpResponse:
    return _page(request, "bad_link.html", status=status)


def _consent(request: HttpRequest, source: str) -> Consent:
    try:
        ip = str(ipaddress.ip_address(form_limits.client_ip(request)))
    except ValueError:
        ip = None
    return Consent(source=source, ip=ip, user_agent=request.META.get("HTTP_USER_AGENT", ""))


# -- signup ------------------------------------------------------------------


def signup_index(request: HttpRequest) -> HttpResponse:
    newsletters = Newsletter.objects.filter(is_public=True).order_by("name")
    listed = [(newsletter, markdown_html(newsletter.description)) for newsletter in newsletters]
    return _page(request, "signup_index.html", newsletters=listed)


@GET_POST
def signup(request: HttpRequest, newsletter_slug: str) -> HttpResponse:
    newsletter = get_object_or_404(Newsletter, slug=newsletter_slug)
    description = markdown_html(newsletter.description)
    show_form = partial(_page, request, "signup.html", newsletter, description=description)
    with speaking(newsletter):
        if request.method != "POST":
            return show_form(form=SignupForm())
        return _sign_up(request, newsletter, source="signup", show_form=show_form)


def _sign_up(
    request: HttpRequest,
    newsletter: Newsletter,
    *,
    source: str,
    show_form,
    check=lambda form: None,
    done=None,
) -> HttpResponse:
    """A signup POST, from our page or another site's form: the limits, the
    honeypot, the form, `check(form)` (a response refuses), then the request
    handed to the worker and done() (our "check your inbox" page)."""
    limit = settings.SIGNUP_RATE_PER_IP
    if not form_limits.allow("signup-ip", form_limits.client_ip(request), limit=limit):
        return _page(request, "too_many.html", newsletter, status=429)
    if request.POST.get("website"):
        # A bot filled the honeypot: tell it what it wants to hear, do nothing.
        return _check_inbox(request, newsletter)
    form = SignupForm(request.POST)
    if not form.is_valid():
        return show_form(form=form, status=400)
    email = form.cleaned_data["email"]
    if not _allow_mailbox(email):
        return _page(request, "too_many.html", newsletter, status=429)
    refused = check(form)
    if refused is not None:
        return refused
    # The worker reads the address's state and decides what to mail; the page
    # reads nothing about it, so neither its body nor its timing reveals it.
    subscriptions.request_subscription(
        newsletter,
        email=email,
        name=form.cleaned_data["name"],
        consent=_consent(request, source),
    )
    return done() if done else _check_inbox(request, newsletter)


# No CSRF check: a form on the editor's own site cannot carry our token. The
# honeypot, the limits, double opt-in and the embed checks stand in for it
# (subscribers.embed). Framed only by the origins the editor listed.
@csrf_exempt
@xframe_options_exempt
@GET_POST
def signup_embed(request: HttpRequest, newsletter_slug: str) -> HttpResponse:
    newsletter = get_object_or_404(Newsletter, slug=newsletter_slug)
    show_form = partial(_embed_form, request, newsletter)
    with speaking(newsletter):
        if request.method != "POST":
            response = show_form(form=SignupForm())
        else:
            response = _sign_up(
                request,
                newsletter,
                source="embed",
                show_form=show_form,
                check=partial(_embed_check, request, newsletter, show_form),
                done=partial(_embed_done, request, newsletter),
            )
    response["Content-Security-Policy"] = embed.content_security_policy(newsletter)
    return response


def _embed_form(request, newsletter, *, form, status=200, stale=False) -> HttpResponse:
    context = {"form": form, "token": embed.form_token(newsletter), "stale": stale}
    context |= {"script": embed.PROOF_SCRIPT, "next": _next_url(request)}
    return _page(request, "signup_embed.html", newsletter, status=status, **context)


def _embed_check(request, newsletter, show_form, form) -> HttpResponse | None:
    """The time token (the iframe page's) and the proof of work (where a script
    ran): absent is fine, wrong is a bot, answered as if it worked."""
    token, proof = request.POST.get("token", ""), request.POST.get("proof", "")
    problem = embed.token_problem(newsletter, token) if token else None
    if problem == "stale":
        return show_form(form=form, status=400, stale=True)
    if problem or (proof and not embed.proof_holds(proof, request.POST.get("email", ""))):
        return _check_inbox(request, newsletter)
    return None


def _next_url(request: HttpRequest) -> str:
    return (request.POST.get("next") or request.GET.get("next") or "")[:2000]


def _embed_done(request, newsletter) -> HttpResponse:
    """Back to the editor's site when `next` is on a listed origin; else our page."""
    next_url = _next_url(request)
    if next_url and newsletter.lists_origin(next_url):
        return redirect(next_url, permanent=False)
    return _check_inbox(request, newsletter)


def _allow_mailbox(email: str) -> bool:
    """The per-minute limit per mailbox: ann+1@ and Ann+2@ share ann@'s count."""
    limit = settings.SIGNUP_RATE_PER_EMAIL
    return form_limits.allow("signup-email", addresses.mailbox(email), limit=limit)


def _check_inbox(request: HttpRequest, newsletter: Newsletter) -> HttpResponse:
    wait = int(subscriptions.CONFIRM_AGAIN_AFTER.total_seconds() // 60)
    return _page(request, "check_inbox.html", newsletter, wait_minutes=wait)


# -- confirm -----------------------------------------------------------------


def _expired(request: HttpRequest, token: str, payload: dict) -> HttpResponse:
    try:
        subscription = _subscription_in(payload)
    except BadLink as exc:
        return _bad_link(request, exc.status)
    newsletter = subscription.newsletter
    with speaking(newsletter):
        if subscription.status == Subscription.Status.CONFIRMED:
            return _page(request, "confirmed.html", newsletter, subscription=subscription)
        context = {"token": token, **_lifetime("confirm")}
        return _page(request, "confirm_expired.html", newsletter, status=410, **context)


# No CSRF check: the signed token in the URL is the capability, and a reader
# whose mail app's browser drops cookies must still be able to confirm.
@csrf_exempt
@GET_POST
@signed_link(partial(_subscription_for, "confirm"), expired=_expired)
def confirm(request: HttpRequest, token: str, subscription: Subscription) -> HttpResponse:
    newsletter = subscription.newsletter
    if request.method == "POST":
        subscriptions.confirm(subscription)
    if subscription.status == Subscription.Status.CONFIRMED:
        return _page(request, "confirmed.html", newsletter, subscription=subscription)
    if subscription.status != Subscription.Status.PENDING:
        return _page(request, "confirm_stale.html", newsletter, status=410)
    return _page(request, "confirm.html", newsletter, subscription=subscription)


@csrf_exempt
@require_POST
@signed_link(partial(_subscription_for, "confirm", any_age=True))  # it is signed
def confirm_resend(request: HttpRequest, token: str, subscription: Subscription) -> HttpResponse:
    """A fresh confirmation link for the address in an expired link's signed payload."""
    newsletter = subscription.newsletter
    if not _allow_mailbox(subscription.subscriber.email):
        return _page(request, "too_many.html", newsletter, status=429)
    subscriptions.resend_confirmation(subscription)
    return _check_inbox(request, newsletter)


# -- unsubscribe -------------------------------------------------------------


@csrf_exempt  # as for confirm: leaving must work even without cookies
@GET_POST
@signed_link(partial(_subscription_for, "unsubscribe"))
def unsubscribe(request: HttpRequest, token: str, subscription: Subscription) -> HttpResponse:
    newsletter = subscription.newsletter
    context = {"subscription": subscription, "token": token}
    if request.method != "POST":
        return _page(request, "unsubscribe.html", newsletter, form=UnsubscribeForm(), **context)
    if request.POST.get("action") == "resubscribe":
        outcome = subscriptions.resubscribe(subscription)
        return _page(request, "resubscribed.html", newsletter, outcome=outcome, **context)
    form = UnsubscribeForm(request.POST)
    subscriptions.unsubscribe(subscription, reason=form.reason_text())
    can_resubscribe = subscriptions.can_resubscribe(subscription)
    return _page(
        request, "unsubscribed.html", newsletter, can_resubscribe=can_resubscribe, **context
    )


def _not_valid_plain(request: HttpRequest, status: int) -> HttpResponse:
    return _plain(gettext("This unsubscribe link is not valid."), 400)


@csrf_exempt
@require_POST
@signed_link(partial(_subscription_for, "unsubscribe"), bad=_not_valid_plain)
def unsubscribe_one_click(
    request: HttpRequest, token: str, subscription: Subscription
) -> HttpResponse:
    """RFC 8058: the mailbox provider POSTs `List-Unsubscribe=One-Click`, with
    no cookies and no CSRF token; we answer 200, never a redirect."""
    if not _is_one_click(request):
        return _plain(gettext("Expected the body List-Unsubscribe=One-Click."), 400)
    subscriptions.unsubscribe(subscription, reason="one-click")
    name = subscription.newsletter.name
    return _plain(gettext("Unsubscribed from %(name)s.") % {"name": name}, 200)


def _is_one_click(request: HttpRequest) -> bool:
    try:
        if request.content_type == "multipart/form-data":
            form = request.POST
        else:  # form-encoded, or sent without a content type
            form = QueryDict(request.body)
    except (MultiPartParserError, UnicodeDecodeError, ValueError):
        return False
    return form.getlist("List-Unsubscribe") == ["One-Click"]


def _plain(text: str, status: int) -> HttpResponse:
    return HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")


# -- a reader's own pages: preferences, their data, erasing it ------------------


def reader_link(purpose: str):
    """signed_link for a reader's own page: an expired link offers a fresh one
    by email (a POST of action=resend to the same address), and does nothing else."""
    return signed_link(partial(_reader_for, purpose), expired=partial(_link_expired, purpose))


def _link_expired(purpose: str, request: HttpRequest, token: str, payload: dict) -> HttpResponse:
    try:
        reader = _reader_in(payload)  # signed by us: the address it names is the reader's
    except BadLink as exc:
        return _bad_link(request, exc.status)
    with speaking(reader.newsletter):
        if request.method == "POST" and request.POST.get("action") == "resend":
            return _email_link(request, reader, purpose)
        context = {"subscriber": reader.subscriber, "purpose": purpose, **_lifetime(purpose)}
        return _page(request, "link_expired.html", status=410, **context)


def _email_link(request: HttpRequest, reader: Reader, purpose: str) -> HttpResponse:
    """Email the reader a fresh link of this purpose, from the newsletter this
    one came from; the page says where it went."""
    subscriber = reader.subscriber
    context = {"subscriber": subscriber, **_lifetime(purpose)}
    if not subscriptions.email_reader_link(
        subscriber, purpose=purpose, newsletter=reader.newsletter
    ):
        return _page(request, "too_many_links.html", status=429, **context)
    return _page(request, "link_sent.html", purpose=purpose, **context)


def _lifetime(purpose: str) -> dict:
    return {"lifetime": tokens.lifetime_words(purpose)}


@GET_POST
@reader_link("preferences")
def preferences(request: HttpRequest, token: str, reader: Reader) -> HttpResponse:
    subscriber = reader.subscriber
    offered = subscriptions.preference_newsletters(subscriber)
    form = PreferencesForm(request.POST or None, offered=offered)
    if request.method == "POST":
        action = request.POST.get("action", "save")
        if action == "unsubscribe_all":
            subscriptions.unsubscribe_all(subscriber, reason="preferences page: all")
            messages.success(
                request, gettext("You are unsubscribed from everything. Sorry to see you go.")
            )
            return redirect(request.path)
        if action in ("email_data", "email_erase"):
            return _email_link(request, reader, action.removeprefix("email_"))
        if action == "save" and form.is_valid():
            waiting = subscriptions.update_preferences(
                subscriber,
                name=form.cleaned_data["name"],
                wanted=set(form.cleaned_data["newsletters"]),
                offered=offered,
                consent=_consent(request, "preferences"),
            )
            messages.success(request, gettext("Your preferences are saved."))
            for newsletter, outcome in waiting.items():
                messages.info(request, _WAITING[outcome] % {"newsletter": newsletter.name})
            return redirect(request.path)

    current = {s.newsletter_id: s for s in subscriber.subscriptions.all()}
    rows = [(newsletter, current.get(newsletter.pk)) for newsletter in offered]
    return _page(
        request,
        "preferences.html",
        subscriber=subscriber,
        rows=rows,
        form=form,
        status=400 if form.is_bound else 200,  # a valid POST redirected above
        **_lifetime("data"),
    )


# What the preferences page says of a ticked newsletter not confirmed at once.
_WAITING = {
    "confirm": _(
        "%(newsletter)s: mail to your address bounced or was reported as spam, so we emailed "
        "you a link to confirm first. It starts again once you open it."
    ),
    "too_many": _(
        "%(newsletter)s: we need to confirm your address by email first, and we sent it enough "
        "emails for now. Please try again in an hour."
    ),
}


@GET_POST
@reader_link("data")
def my_data(request: HttpRequest, token: str, reader: Reader) -> HttpResponse:
    """Everything we hold about this reader, as JSON: through a short-lived link
    emailed on request, never through the preferences link in every issue."""
    data = reader_data.export(reader.subscriber)
    response = JsonResponse(data, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = 'attachment; filename="my-newsletter-data.json"'
    return response


@GET_POST
@reader_link("erase")
def erase(request: HttpRequest, token: str, reader: Reader) -> HttpResponse:
    """Delete me, through a short-lived link emailed on request: GET asks, POST erases."""
    if request.method != "POST" or request.POST.get("action") != "erase":
        return _page(request, "delete.html", subscriber=reader.subscriber)
    reader_data.erase(reader.subscriber)
    return _page(request, "deleted.html")
