"""What production needs before it serves a page or mails a link, written once:
the settings refuse to start without it, and the send path refuses to mail an
insecure link (newsletter.sending.lifecycle).

Plain values in, sentences out: the settings call it before Django is set up.
"""

# Backends that keep mail on this machine: their links never reach a reader.
LOCAL_BACKENDS = (
    "mail.outbox.OutboxBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
)


def site_url_problem(site_url: str, *, email_backend: str, https: bool) -> str | None:
    """Why emails may not carry links to `site_url`, or None.

    With HTTPS on (production's default), every link a reader gets through a
    real ESP must be https: an http unsubscribe link in List-Unsubscribe is
    refused by mailbox providers and readable on the wire.
    """
    if not https or email_backend in LOCAL_BACKENDS:
        return None
    if not site_url.startswith("https://"):
        shown = site_url or "unset"
        return (
            f"SITE_URL is {shown}: links in emails sent through an ESP must start with "
            "https:// (set SITE_URL=https://your.domain, or HTTPS=0 if this server "
            "really has no HTTPS)."
        )
    return None


def sender_problem(from_email: str, *, email_backend: str) -> str | None:
    """Why mail may not go out from `from_email`, or None: a sender on localhost
    (or on any name without a dot) is refused by mailbox providers and can sign
    nothing, so only the backends that keep mail on this machine accept one."""
    if email_backend in LOCAL_BACKENDS:
        return None
    domain = from_email.rpartition("@")[2].strip(" >").lower()
    if "." not in domain or domain.endswith(".localhost"):
        return (
            f"the sender {from_email or '(unset)'} has no real domain: set DEFAULT_FROM_EMAIL "
            "(and every newsletter's sender address) to an address on your sending domain."
        )
    return None


def secret_key_problem(key: str, public_keys: tuple[str, ...]) -> str | None:
    """Why `key` may not sign readers' links in production, or None: Django's
    own bar for a key (check --deploy) is the floor here, not a warning."""
    if key.strip() in public_keys:
        return "a published example key: generate your own"
    if len(key) < 50 or len(set(key)) < 5 or key.startswith("django-insecure-"):
        return "too weak: use 50 or more random characters"
    return None


def production_problems(
    *,
    secret_key: str,
    fallback_keys: list[str],
    public_keys: tuple[str, ...],
    allowed_hosts: list[str],
    site_url: str,
    email_backend: str,
    https: bool,
    default_from_email: str,
) -> list[str]:
    """Everything that stops this configuration from running with DEBUG off."""
    problems = []
    if not secret_key:
        problems.append("SECRET_KEY is not set.")
    elif problem := secret_key_problem(secret_key, public_keys):
        problems.append(f"SECRET_KEY is {problem}.")
    if any(key.strip() in public_keys for key in fallback_keys):
        problems.append("SECRET_KEY_FALLBACKS holds a published example key.")
    if not allowed_hosts:
        problems.append("ALLOWED_HOSTS is not set (the host names this site answers to).")
    elif "*" in allowed_hosts:
        problems.append("ALLOWED_HOSTS is *: name the hosts this site answers to.")
    if not site_url:
        problems.append("SITE_URL is not set (the public address links in emails point to).")
    else:
        problem = site_url_problem(site_url, email_backend=email_backend, https=https)
        if problem:
            problems.append(problem)
    if problem := sender_problem(default_from_email, email_backend=email_backend):
        problems.append(f"DEFAULT_FROM_EMAIL: {problem}")
    return problems


def refusal(problems: list[str]) -> str:
    lines = "\n".join(f"  - {problem}" for problem in problems)
    return (
        "Letterpress will not start: DEBUG is off (production) and\n"
        f"{lines}\n"
        "Set these in the environment (see .env.example), or DEBUG=1 for development."
    )
