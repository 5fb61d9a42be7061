from urllib.parse import urlsplit

from django.core.exceptions import ValidationError


def validate_http_url(value: str) -> None:
    """Only http(s) links reach readers: no javascript:, data:, mailto: or file:."""
    scheme = urlsplit(value.strip()).scheme.lower()
    if scheme not in ("http", "https"):
        raise ValidationError("Links must start with http:// or https://.")


def origin_of(url: str) -> str | None:
    """The origin of an http(s) URL as browsers compare it, "https://blog.example.org"
    or "http://127.0.0.1:8001" (lower case, without a default port); None for
    anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in ("http", "https") or not host or parts.username or parts.password:
        return None
    if not all(char.isalnum() or char in ".-:[]" for char in host):
        return None
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


def validate_origins(value: str) -> None:
    """One origin per line (scheme, host, optional port; no path): the sites
    that may frame the signup form and that a signup may return to."""
    for line in value.splitlines():
        line = line.strip()
        if not line:
            continue
        origin = origin_of(line)
        bare = line.rstrip("/").lower()
        if origin is None or urlsplit(bare).path or "?" in bare or "#" in bare:
            raise ValidationError(
                f"“{line[:80]}” is not an origin: write the scheme and host only, "
                "like https://blog.example.org (a port may follow: http://localhost:8001)."
            )
