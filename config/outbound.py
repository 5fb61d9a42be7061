"""The one way the server fetches a URL it was given (a link's page for its
title, a link check, a webhook's target): only public addresses.

Every hop is checked before it is connected to: http(s) only, every address
the name resolves to public (no loopback, private, link-local, metadata,
shared, multicast or reserved address, IPv6 and IPv4-mapped forms included),
and the connection goes to the address that was checked, never to a second
lookup, so a name that answers differently the second time (DNS rebinding)
gets nowhere. Redirects are followed by hand, each hop checked the same way.

FETCH_ALLOW_LOOPBACK lets development reach this machine (True), or the
tests one local test site (a list of ports); nothing else is ever allowed.
"""

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from django.conf import settings

USER_AGENT = "Letterpress/1.0 (newsletter link checker; +https://github.com/letterpress)"
TIMEOUT_SECONDS = 5.0
MAX_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)


class Refused(Exception):
    """Not fetched, and why, in words an editor can act on."""


class NotPublic(Refused):
    """Refused before connecting: the address is not one the server may reach."""


class TooLarge(Refused):
    """The server answered, with a body over MAX_BYTES (left unread)."""


@dataclass
class Fetched:
    url: str  # where the last hop was (after redirects)
    status: int
    content_type: str
    body: bytes
    hops: list[str] = field(default_factory=list)  # every URL asked for, in order

    @property
    def redirected(self) -> bool:
        return len(self.hops) > 1


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (tests replace this: there is no outside DNS here)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"{host} does not resolve ({exc})") from exc
    return list(dict.fromkeys(info[4][0] for info in infos))


def loopback_allowed(port: int) -> bool:
    allowed = getattr(settings, "FETCH_ALLOW_LOOPBACK", False)
    return allowed is True or (isinstance(allowed, (list, tuple)) and port in allowed)


def address_problem(address: str, port: int) -> str | None:
    """Why the server may not connect to `address`, or None for a public one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        if loopback_allowed(port):
            return None
        return f"{address} is this machine (loopback)"
    if not ip.is_global or ip.is_multicast or ip.is_reserved:
        return f"{address} is not a public address"
    return None


def checked_target(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, address) for a URL the server may fetch; Refused otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise Refused("only http and https links are fetched")
    host = parts.hostname
    if not host:
        raise Refused("the link has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise Refused("the link's port is not a number") from exc
    addresses = resolve(host, port)
    if not addresses:
        raise Refused(f"{host} does not resolve")
    for address in addresses:
        problem = address_problem(address, port)
        if problem:
            raise NotPublic(f"{host}: {problem}")
    return parts.scheme, host, port, addresses[0]


def fetch(url: str, *, method: str = "GET", accept: str = "text/html,*/*;q=0.5") -> Fetched:
    """Fetch `url` within the time and size limits, following up to 5 redirects,
    every hop checked; Refused for anything not allowed or that fails."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    hops = []
    for _ in range(MAX_REDIRECTS + 1):
        hops.append(url)
        response = _one_hop(url, method, accept, deadline)
        location = response.headers.get("Location")
        if response.status in REDIRECTS and location:
            response.release_conn()
            url = urljoin(url, location)
            continue
        body = _read_capped(response, deadline)
        content_type = response.headers.get("Content-Type", "")
        return Fetched(url, response.status, content_type, body, hops)
    raise Refused(f"more than {MAX_REDIRECTS} redirects")


def post(url: str, *, body: bytes, headers: dict[str, str]) -> Fetched:
    """POST `body` to `url` (a webhook's target) within the time and size
    limits, the address checked as for a fetch. A redirect is not followed:
    its 3xx is the answer."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    response = _one_hop(url, "POST", "*/*", deadline, body=body, headers=headers)
    answer = _read_capped(response, deadline)
    return Fetched(url, response.status, response.headers.get("Content-Type", ""), answer, [url])


def _one_hop(
    url: str,
    method: str,
    accept: str,
    deadline: float,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
):
    scheme, host, port, address = checked_target(url)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise Refused(f"no answer within {TIMEOUT_SECONDS:.0f} s")
    timeout = urllib3.Timeout(connect=remaining, read=remaining)
    # The pool connects to the checked address; the name goes in Host and, for
    # https, in SNI and the certificate check.
    if scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            timeout=timeout,
            retries=False,
            server_hostname=host,
            assert_hostname=host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default_port = 443 if scheme == "https" else 80
    headers = {
        **(headers or {}),
        "Host": host if port == default_port else f"{host}:{port}",
        "User-Agent": USER_AGENT,
        "Accept": accept,
    }
    try:
        return pool.urlopen(
            method, target, body=body, headers=headers, redirect=False, preload_content=False
        )
    except urllib3.exceptions.HTTPError as exc:
        raise Refused(_reason(exc)) from exc


def _read_capped(response, deadline: float) -> bytes:
    chunks, size = [], 0
    try:
        for chunk in response.stream(64 * 1024):
            size += len(chunk)
            if size > MAX_BYTES:
                raise TooLarge(f"the page is larger than {MAX_BYTES // (1024 * 1024)} MB")
            if time.monotonic() > deadline:
                raise Refused(f"no answer within {TIMEOUT_SECONDS:.0f} s")
            chunks.append(chunk)
    except urllib3.exceptions.HTTPError as exc:
        raise Refused(_reason(exc)) from exc
    finally:
        response.release_conn()
    return b"".join(chunks)


def _reason(exc: Exception) -> str:
    if isinstance(exc, urllib3.exceptions.NewConnectionError):  # before: it is a TimeoutError
        return "the connection was refused"
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return f"no answer within {TIMEOUT_SECONDS:.0f} s"
    if isinstance(exc, urllib3.exceptions.SSLError):
        return "its HTTPS certificate is not valid"
    return f"the fetch failed ({type(exc).__name__})"
