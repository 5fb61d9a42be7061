"""One link, however it was written: the canonical form two URLs are compared
in (the link inbox's "same URL twice", the pre-flight's "already featured")."""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that say where a click came from, not what the page is.
TRACKING_PARAMETERS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "yclid",
        "twclid",
        "ref_src",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
    }
)


def canonical_url(url: str) -> str:
    """`url` with the differences that do not change the page taken out: scheme
    and host case, `www.`, the default port, a trailing slash, the fragment,
    utm_* and click-id parameters; the other parameters sorted.

    http and https count as one: a page moved to https is the same page.
    """
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    path = parts.path.rstrip("/") or ""
    query = sorted(
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not key.lower().startswith("utm_") and key.lower() not in TRACKING_PARAMETERS
    )
    return urlunsplit(("https", netloc, path, urlencode(query), ""))
