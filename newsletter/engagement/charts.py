"""Charts drawn on the server as inline SVG: no JavaScript, nothing to load, and
they print. Each point carries a <title>, which browsers show on hover."""

from dataclasses import dataclass
from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH = 760
LEFT, RIGHT = 56, 16  # room for the y-axis labels
JOINED, LEFT_COLOUR, TOTAL, GRID, MUTED = "#1e8e3e", "#d93025", "#1a73e8", "#e3e5e8", "#5f6368"


@dataclass(frozen=True)
class GrowthPoint:
    week: date  # the Monday the week starts on
    joined: int  # subscriptions confirmed that week
    left: int  # unsubscribed, bounced or complained that week
    total: int  # confirmed subscriptions at the end of the week


def nice_ceiling(value: float) -> int:
    """The round number an axis should end at: 1, 2, 5, 10, 20, 50, ..."""
    value = max(value, 1)
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _x(index: int, count: int) -> float:
    inner = WIDTH - LEFT - RIGHT
    return LEFT + inner * (index + 0.5) / count


def _y_label(x: float, y: float, text: object) -> SafeString:
    return format_html(
        '<text x="{}" y="{}" text-anchor="end" class="axis">{}</text>', x, round(y + 4, 1), text
    )


def _gridline(y: float) -> SafeString:
    return format_html(
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}"/>', LEFT, WIDTH - RIGHT, y, y, GRID
    )


def _month_labels(points: list[GrowthPoint], y: float) -> SafeString:
    """A label under the first week of each month (every other month when crowded)."""
    firsts = [i for i, p in enumerate(points) if i == 0 or p.week.month != points[i - 1].week.month]
    every = 1 if len(firsts) <= 12 else 2
    return format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="middle" class="axis">{}</text>',
        (
            (round(_x(i, len(points)), 1), y, points[i].week.strftime("%b %Y" if n == 0 else "%b"))
            for n, i in enumerate(firsts)
            if n % every == 0
        ),
    )


def _middle(ceiling: int, y) -> SafeString:
    """A labelled gridline halfway up (none when the axis only goes to 1)."""
    half = ceiling // 2
    if not half:
        return mark_safe("")
    return format_html("{}{}", _gridline(y(half)), _y_label(LEFT - 8, y(half), half))


def _total_panel(points: list[GrowthPoint], top: float, height: float) -> SafeString:
    ceiling = nice_ceiling(max(p.total for p in points))
    bottom = top + height

    def y(v: int) -> float:
        return round(bottom - height * v / ceiling, 1)

    coords = [(round(_x(i, len(points)), 1), y(p.total)) for i, p in enumerate(points)]
    line = " ".join(f"{x},{yy}" for x, yy in coords)
    area = f"{coords[0][0]},{bottom} {line} {coords[-1][0]},{bottom}"
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="3" fill="{}">'
        "<title>Week of {}: {} subscribers</title></circle>",
        (
            (x, yy, TOTAL, p.week.strftime("%d %b %Y"), p.total)
            for (x, yy), p in zip(coords, points, strict=True)
        ),
    )
    return format_html(
        '<text x="{}" y="{}" class="heading">Confirmed subscribers</text>'
        "{}{}{}{}{}"
        '<polygon points="{}" fill="{}" fill-opacity="0.12"/>'
        '<polyline points="{}" fill="none" stroke="{}" stroke-width="2.5"/>{}',
        LEFT,
        top - 10,
        _gridline(top),
        _gridline(bottom),
        _middle(ceiling, y),
        _y_label(LEFT - 8, top, ceiling),
        _y_label(LEFT - 8, bottom, 0),
        area,
        TOTAL,
        line,
        TOTAL,
        dots,
    )


def _flow_panel(points: list[GrowthPoint], top: float, height: float) -> SafeString:
    """Joined above the axis, left below it, one pair of bars per week."""
    ceiling = nice_ceiling(max(max(p.joined, p.left) for p in points))
    axis = top + height / 2
    scale = (height / 2) / ceiling
    slot = (WIDTH - LEFT - RIGHT) / len(points)
    bar = max(2.0, min(18.0, slot * 0.6))

    def rect(x: float, count: int, up: bool, colour: str, what: str, week: date) -> SafeString:
        h = round(count * scale, 1)
        return format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" fill="{}" rx="1.5">'
            "<title>Week of {}: {} {}</title></rect>",
            x,
            round(axis - h, 1) if up else axis,
            round(bar, 1),
            h,
            colour,
            week.strftime("%d %b %Y"),
            count,
            what,
        )

    bars = []
    for i, p in enumerate(points):
        x = round(_x(i, len(points)) - bar / 2, 1)
        if p.joined:
            bars.append(rect(x, p.joined, True, JOINED, "confirmed", p.week))
        if p.left:
            bars.append(rect(x, p.left, False, LEFT_COLOUR, "left", p.week))
    return format_html(
        '<text x="{}" y="{}" class="heading">Each week: '
        '<tspan fill="{}">■ confirmed</tspan> <tspan fill="{}">■ unsubscribed, bounced'
        " or complained</tspan></text>{}{}{}{}{}",
        LEFT,
        top - 10,
        JOINED,
        LEFT_COLOUR,
        _gridline(axis),
        _y_label(LEFT - 8, top + 4, f"+{ceiling}"),
        _y_label(LEFT - 8, axis, 0),
        _y_label(LEFT - 8, top + height - 4, f"−{ceiling}"),
        mark_safe("".join(bars)),  # each bar is built with format_html
    )


def growth_chart(points: list[GrowthPoint], *, title: str) -> SafeString:
    """Subscribers over time (a line) above weekly arrivals and departures (bars)."""
    if not points:
        return mark_safe('<p class="chart-empty">No confirmed subscribers yet.</p>')
    height = 380
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="100%" role="img" '
        'aria-label="{}" class="growth-chart">'
        "<title>{}</title>"
        "<style>.axis{{font:12px sans-serif;fill:{}}}"
        ".heading{{font:600 13px sans-serif;fill:{}}}</style>"
        "{}{}{}</svg>",
        WIDTH,
        height,
        title,
        title,
        MUTED,
        MUTED,
        _total_panel(points, top=30, height=150),
        _flow_panel(points, top=230, height=120),
        _month_labels(points, y=height - 4),
    )
