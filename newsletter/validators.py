from urllib.parse import urlsplit

from django.core.exceptions import ValidationError


def validate_http_url(value: str) -> None:
    """Only http(s) links reach readers: no javascript:, data:, mailto: or file:."""
    scheme = urlsplit(value.strip()).scheme.lower()
    if scheme not in ("http", "https"):
        raise ValidationError("Links must start with http:// or https://.")


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
