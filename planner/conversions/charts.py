"""Server-rendered SVG charts: grouped bars and weekly lines, accessible and escaped."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

PALETTE = ("#2f6f8f", "#d08c2f", "#5a8f3c", "#8f3c6f", "#3c4f8f", "#8f5a3c", "#4f8f8a")


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def grouped_bars(*, title: str, labels: Sequence[str],
                 series: Sequence[tuple[str, Sequence[float]]], width: int = 780,
                 bar_height: int = 14) -> Markup:
    """Horizontal bars: one group per label, one bar per series (e.g. first / last touch)."""
    n_series = max(len(series), 1)
    group = bar_height * n_series + 10
    left, top = 200, 28
    height = top + group * max(len(labels), 1) + 10
    peak = max([v for _, values in series for v in values] + [1])
    scale = (width - left - 60) / peak
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'style="max-width:100%;height:auto"><title>{escape(title)}</title>']
    for i, (name, _) in enumerate(series):
        x = left + i * 140
        parts.append(f'<rect x="{x}" y="6" width="10" height="10" fill="{PALETTE[i % 7]}"/>'
                     f'<text x="{x + 14}" y="15" font-size="11">{escape(name)}</text>')
    for row, label in enumerate(labels):
        y = top + row * group
        parts.append(f'<text x="{left - 6}" y="{y + group / 2}" font-size="11" '
                     f'text-anchor="end">{escape(label[:32])}</text>')
        for i, (name, values) in enumerate(series):
            value = values[row] if row < len(values) else 0
            by = y + i * bar_height
            parts.append(f'<rect x="{left}" y="{by}" width="{value * scale:.1f}" '
                         f'height="{bar_height - 2}" fill="{PALETTE[i % 7]}">'
                         f'<title>{escape(label)}, {escape(name)}: {_fmt(value)}</title></rect>'
                         f'<text x="{left + value * scale + 4:.1f}" y="{by + bar_height - 4}" '
                         f'font-size="10">{_fmt(value)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every label above went through escape()


def weekly_lines(*, title: str, week_labels: Sequence[str],
                 series: Sequence[tuple[str, Sequence[float]]], width: int = 640,
                 height: int = 220) -> Markup:
    """One line per series over the weeks, with a legend under the plot."""
    left, right, top, bottom = 40, 30, 12, 40 + 16 * ((len(series) + 2) // 3)
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([v for _, values in series for v in values] + [1])
    steps = max(len(week_labels) - 1, 1)

    def point(i: int, v: float) -> str:
        return f"{left + i * plot_w / steps:.1f},{top + plot_h - v / peak * plot_h:.1f}"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'style="max-width:100%;height:auto"><title>{escape(title)}</title>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
             f'stroke="#999"/><text x="{left - 4}" y="{top + 8}" font-size="10" '
             f'text-anchor="end">{_fmt(peak)}</text>']
    for i, label in enumerate(week_labels):
        x = left + i * plot_w / steps
        parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 14}" font-size="10" '
                     f'text-anchor="middle">{escape(label)}</text>')
    for s, (name, values) in enumerate(series):
        colour = PALETTE[s % 7]
        points = " ".join(point(i, v) for i, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                     f'points="{points}"><title>{escape(name)}</title></polyline>')
        lx, ly = left + (s % 3) * 200, top + plot_h + 30 + (s // 3) * 16
        parts.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{lx + 14}" y="{ly}" font-size="11">{escape(name[:28])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every label above went through escape()
