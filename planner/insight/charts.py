"""The channel x quadrant grid as a server-side SVG: read in five seconds.

Green: clearly more than the channel's typical engagement; orange: clearly less; grey: no
clear difference; white with a dash: not enough posts yet. Each cell says the lift and the
number of posts; the shade deepens with the size of the lift. Colours are Okabe-Ito
(safe for colour-vision deficiency) and every cell also carries the words in its title.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from compass import QUADRANTS_ORDER
from planner.insight.service import Row

CELL_W, CELL_H, LABEL_W, HEAD_H = 150, 46, 230, 40
LABEL_CHARS = 30
HIGHER = (0, 158, 115)  # bluish green
LOWER = (213, 94, 0)  # vermillion
NEUTRAL = "#e4e4e4"


def _mix(rgb: tuple[int, int, int], strength: float) -> str:
    """``rgb`` blended with white; strength 0..1."""
    r, g, b = (round(255 + (c - 255) * strength) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def _t(text: object) -> str:
    return escape(str(text), quote=True)


def grid_svg(rows: Sequence[Row]) -> str:
    width = LABEL_W + CELL_W * len(QUADRANTS_ORDER)
    height = HEAD_H + CELL_H * max(len(rows), 1)
    summary = []
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" class="insight-grid" '
             f'aria-labelledby="grid-title grid-desc">',
             '<title id="grid-title">What resonates: engagement by value and channel</title>']
    for i, quadrant in enumerate(QUADRANTS_ORDER):
        x = LABEL_W + i * CELL_W
        parts.append(f'<rect x="{x + 4}" y="8" width="{CELL_W - 8}" height="24" rx="4" '
                     f'fill="{quadrant.colour}"/>')
        parts.append(f'<text x="{x + CELL_W / 2}" y="25" text-anchor="middle" fill="#fff" '
                     f'font-size="13" font-weight="600">{_t(quadrant.label)}</text>')
    if not rows:
        parts.append(f'<text x="{LABEL_W}" y="{HEAD_H + 28}" font-size="14">No published '
                     f'posts with metrics yet.</text>')
    for r, row in enumerate(rows):
        y = HEAD_H + r * CELL_H
        # About 7 px a character at 13 px bold: cut long names to the label column, whole in
        # the tooltip, so a label never runs under the first cell.
        label = row.label if len(row.label) <= LABEL_CHARS else row.label[:LABEL_CHARS - 1] + "…"
        parts.append(f'<text x="8" y="{y + 22}" font-size="13" font-weight="600">'
                     f'<title>{_t(row.label)}</title>{_t(label)}</text>')
        sub = f"{row.posts} posts" + (f", {row.unavailable} without metrics"
                                      if row.unavailable else "")
        parts.append(f'<text x="8" y="{y + 38}" font-size="11" fill="#555">{_t(sub)}</text>')
        for i, quadrant in enumerate(QUADRANTS_ORDER):
            lift = row.lifts[quadrant]
            x = LABEL_W + i * CELL_W
            words = lift.describe(f"{quadrant.label} posts on {row.label}")
            summary.append(words)
            if lift.ratio is None:
                fill, big, small, ink = "#ffffff", "—", f"{lift.n} of {lift.needed} posts", "#555"
            else:
                strength = min(1.0, 0.25 + abs(math.log(lift.ratio)) / math.log(3))
                fill = (_mix(HIGHER, strength) if lift.status == "higher" else
                        _mix(LOWER, strength) if lift.status == "lower" else NEUTRAL)
                ink = "#fff" if lift.status != "no_clear_difference" and strength > 0.6 \
                    else "#222"
                big = f"{lift.ratio:.1f}x"
                small = f"{lift.n} posts" + ("" if lift.status != "no_clear_difference"
                                             else ", unclear")
            parts.append(f'<g class="cell" data-status="{_t(lift.status)}" '
                         f'data-quadrant="{quadrant.value}"><title>{_t(words)}</title>'
                         f'<rect x="{x + 4}" y="{y + 4}" width="{CELL_W - 8}" '
                         f'height="{CELL_H - 8}" rx="4" fill="{fill}" stroke="#bbb"/>'
                         f'<text x="{x + CELL_W / 2}" y="{y + 24}" text-anchor="middle" '
                         f'font-size="15" font-weight="700" fill="{ink}">{_t(big)}</text>'
                         f'<text x="{x + CELL_W / 2}" y="{y + 37}" text-anchor="middle" '
                         f'font-size="10" fill="{ink}">{_t(small)}</text></g>')
    parts.insert(2, f'<desc id="grid-desc">{_t(" ".join(summary) or "No data yet.")}</desc>')
    parts.append("</svg>")
    return "".join(parts)
