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


def relative_luminance(colour: str) -> float:
    """WCAG 2's relative luminance of a #rrggbb colour."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2's contrast ratio of two #rrggbb colours, from 1 to 21."""
    light, dark = sorted((relative_luminance(foreground), relative_luminance(background)))[::-1]
    return (light + 0.05) / (dark + 0.05)


# WCAG AA for body text: link titles and feedback buttons are written in the accent.
MIN_CONTRAST = 4.5


def validate_accent_contrast(value: str) -> None:
    """The accent colours link titles and buttons' text on white: readable, or refused."""
    try:
        ratio = contrast_ratio(value, "#ffffff")
    except ValueError:
        return  # not a colour at all: the format validator says so
    if ratio < MIN_CONTRAST:
        raise ValidationError(
            f"{value} on white has a contrast of {ratio:.1f}:1; links need at least "
            f"{MIN_CONTRAST}:1 to be readable. Pick a darker colour."
        )
