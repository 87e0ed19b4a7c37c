"""Server-rendered, accessible SVG charts (pure string building, no dependencies).

Both functions return a standalone ``<svg>`` element ready to inline in a page. Every piece
of text is XML-escaped; each chart has ``role="img"``, a ``<title>``, a ``<desc>`` and an
``aria-label`` summarising the numbers for screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

from compass.model import QUADRANT_ANGLE, QUADRANTS_ORDER, VALUES, Need, Quadrant
from compass.report import BalanceReport

__all__ = ["render_compass_svg", "render_trend_svg"]

# The compass is drawn in a fixed coordinate system and scaled by width/height, so labels
# (the longest is "Share with others") always fit.
_VIEW_W, _VIEW_H = 600, 360
_CX, _CY, _RADIUS = 300.0, 180.0, 100.0
_LABEL_SIZE = 19  # drawn at 480-600 px wide, labels read at 15-19 px
_MAX_TREND_WEEKS = 12


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _point(angle: float, radius: float) -> tuple[float, float]:
    """Angle in degrees clockwise from north."""
    rad = math.radians(angle)
    return _CX + radius * math.sin(rad), _CY - radius * math.cos(rad)


def _polygon(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def _anchor(x: float) -> str:
    if x > _CX + 1:
        return "start"
    if x < _CX - 1:
        return "end"
    return "middle"


def render_compass_svg(
    report: BalanceReport, *, size: int = 240, title: str = "Compass balance"
) -> str:
    """The 8 values around a circle, the account's shares as a filled shape and the target
    as a dashed outline.

    Each quadrant is plotted at its angle with its share; each need at its angle with its
    need share (both sets sum to 1, so an even mix is a regular octagon). The radius scale
    is shared by shares and target so the two shapes compare directly.

    Args:
        report: from :func:`compass.balance.check_balance`.
        size: rendered width in px (height follows the 3:2 aspect ratio).
        title: accessible title (escaped).
    """
    shares = {q.quadrant: q.share for q in report.quadrants}
    need_shares = {x.need: x.share for x in report.needs}
    targets = {q.quadrant: q.target for q in report.quadrants}
    need_targets = {x.need: x.target for x in report.needs}
    scale = max(0.5, *shares.values(), *need_shares.values(), *targets.values())

    def shape(quadrant_values: Mapping[Quadrant, float], need_values: Mapping[Need, float]) -> str:
        points = []
        for value in VALUES:
            if value.quadrant is not None:
                share = quadrant_values[value.quadrant]
            else:
                assert value.need is not None
                share = need_values[value.need]
            points.append(_point(value.angle, _RADIUS * share / scale))
        return _polygon(points)

    summary = _compass_summary(report)
    height = round(size * _VIEW_H / _VIEW_W)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_VIEW_W} {_VIEW_H}" '
        f'width="{size}" height="{height}" role="img" aria-label="{_text(summary)}" '
        'class="compass-chart">',
        f"<title>{_text(title)}</title>",
        f"<desc>{_text(summary)}</desc>",
        f'<circle cx="{_CX}" cy="{_CY}" r="{_RADIUS}" fill="none" stroke="#c8c8c8"/>',
        f'<circle cx="{_CX}" cy="{_CY}" r="{_RADIUS / 2}" fill="none" stroke="#e4e4e4"/>',
    ]
    for value in VALUES:
        x, y = _point(value.angle, _RADIUS)
        parts.append(f'<line x1="{_CX}" y1="{_CY}" x2="{x:.1f}" y2="{y:.1f}" stroke="#e4e4e4"/>')
    parts.append(
        f'<polygon points="{shape(shares, need_shares)}" fill="#4a5a78" fill-opacity="0.35" '
        'stroke="#4a5a78" stroke-width="2" class="compass-shares"/>'
    )
    parts.append(
        f'<polygon points="{shape(targets, need_targets)}" fill="none" stroke="#222" '
        'stroke-dasharray="4 3" class="compass-target"/>'
    )
    for q in report.quadrants:
        x, y = _point(QUADRANT_ANGLE[q.quadrant], _RADIUS * q.share / scale)
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{q.quadrant.colour}">'
            f"<title>{_text(f'{q.quadrant.label}: {q.share:.0%}')}</title></circle>"
        )
    for value in VALUES:
        x, y = _point(value.angle, _RADIUS + 14)
        weight = "bold" if value.need else "normal"
        colour = value.quadrant.colour if value.quadrant else "#222"
        share = shares[value.quadrant] if value.quadrant else None
        # The share goes on a line of its own, so the longest line stays a value's name.
        below = f"{share:.0%}" if share is not None and report.n else ""
        first_y = y + 6 - (_LABEL_SIZE / 2 if below and y < _CY + 1 else 0)
        second = (f'<tspan x="{x:.1f}" dy="{_LABEL_SIZE}">{_text(below)}</tspan>'
                  if below else "")
        parts.append(
            f'<text x="{x:.1f}" y="{first_y:.1f}" text-anchor="{_anchor(x)}" '
            f'font-size="{_LABEL_SIZE}" font-family="sans-serif" font-weight="{weight}" '
            f'fill="{colour}">{_text(value.label)}{second}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _compass_summary(report: BalanceReport) -> str:
    if not report.n:
        return "No posts yet"
    shares = ", ".join(f"{q.quadrant.label} {q.share:.0%}" for q in report.quadrants)
    return f"{report.headline}. Last {report.n} posts: {shares}"


def render_trend_svg(
    weeks: Sequence[tuple[str, Mapping[Quadrant | str, float]]],
    *,
    width: int = 420,
    height: int = 190,
    title: str = "Compass balance by week",
) -> str:
    """A stacked bar per week (the last 12 given), each bar split by quadrant share.

    Args:
        weeks: ``(label, shares)`` oldest first; shares may be counts, they are normalised
            per week. A week without posts is drawn as an empty outline.
        width / height: rendered size in px (also the coordinate system).
        title: accessible title (escaped).
    """
    weeks = list(weeks)[-_MAX_TREND_WEEKS:]
    # Weeks without posts get no bar (an empty slot reads as "zero of everything"); the
    # description says how many were left out.
    empty = [label for label, raw in weeks if not _normalise(raw)]
    weeks = [(label, raw) for label, raw in weeks if _normalise(raw)]
    legend_h, label_h, top = 36, 18, 6
    chart_h = max(10, height - legend_h - label_h - top)
    slot = width / max(1, len(weeks))
    bar_w = max(2.0, slot * 0.7)
    descriptions = []
    bars = []
    for i, (label, raw) in enumerate(weeks):
        shares = _normalise(raw)
        x = i * slot + (slot - bar_w) / 2
        y = float(top + chart_h)
        if not shares:
            descriptions.append(f"{label}: no posts")
            bars.append(
                f'<rect x="{x:.1f}" y="{top}" width="{bar_w:.1f}" height="{chart_h}" '
                'fill="none" stroke="#ddd"/>'
            )
        else:
            descriptions.append(
                f"{label}: " + ", ".join(f"{q.label} {shares.get(q, 0.0):.0%}"
                                         for q in QUADRANTS_ORDER)
            )
        for quadrant in QUADRANTS_ORDER:
            part = shares.get(quadrant, 0.0) * chart_h
            if part <= 0:
                continue
            y -= part
            tip = f"{label}: {quadrant.label} {shares[quadrant]:.0%}"
            bars.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{part:.1f}" '
                f'fill="{quadrant.colour}"><title>{_text(tip)}</title></rect>'
            )
        bars.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{top + chart_h + 14}" text-anchor="middle" '
            f'font-size="12" font-family="sans-serif">{_text(label)}</text>'
        )
    legend = []
    for i, quadrant in enumerate(QUADRANTS_ORDER):
        lx = (i % 2) * width / 2  # two by two: the labels stay 12 px and fit
        ly = height - legend_h + 2 + (i // 2) * 17
        legend.append(
            f'<rect x="{lx:.1f}" y="{ly}" width="11" height="11" fill="{quadrant.colour}"/>'
            f'<text x="{lx + 15:.1f}" y="{ly + 10}" font-size="12" font-family="sans-serif">'
            f"{_text(quadrant.label)}</text>"
        )
    if empty:
        descriptions.append(f"{len(empty)} week(s) without posts not drawn")
    summary = "; ".join(descriptions) if descriptions else "No weeks to show"
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{_text(title)}" '
            'class="compass-trend">',
            f"<title>{_text(title)}</title>",
            f"<desc>{_text(summary)}</desc>",
            *bars,
            *legend,
            "</svg>",
        ]
    )


def _normalise(raw: Mapping[Quadrant | str, float]) -> dict[Quadrant, float]:
    values = {Quadrant(k): max(0.0, float(v)) for k, v in raw.items()}
    total = math.fsum(values.values())
    return {q: v / total for q, v in values.items()} if total > 0 else {}
