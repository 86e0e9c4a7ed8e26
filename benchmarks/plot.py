"""A small hand-written SVG line chart (no plotting library is a dependency of this project)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 760, 440
LEFT, RIGHT, TOP, BOTTOM = 70, 200, 50, 60


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[float, float]]
    color: str
    dashed: bool = False
    markers: bool = True


def _nice_step(span: float, ticks: int = 6) -> float:
    raw = span / ticks
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def line_chart(
    title: str,
    x_label: str,
    y_label: str,
    series: Sequence[Series],
    *,
    x_ticks: Sequence[float],
    subtitle: str = "",
    annotations: Sequence[tuple[float, float, str]] = (),
) -> str:
    xs = [x for s in series for x, _ in s.points] + list(x_ticks)
    ys = [y for s in series for _, y in s.points] + [0.0]
    x_min, x_max = min(xs), max(xs)
    step = _nice_step(max(ys) * 1.05)
    y_max = step * math.ceil(max(ys) * 1.05 / step)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x_min) / (x_max - x_min or 1) * plot_w

    def py(y: float) -> float:
        return TOP + plot_h - y / (y_max or 1) * plot_h

    out = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="12">'
        ),
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    if subtitle:
        out.append(f'<text x="{LEFT}" y="39" fill="#555">{escape(subtitle)}</text>')
    y = 0.0
    while y <= y_max + 1e-9:
        out.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#e5e5e5"/>'
        )
        out.append(f'<text x="{LEFT - 8}" y="{py(y) + 4:.1f}" text-anchor="end">{y:g}</text>')
        y += step
    last_label = -math.inf
    for x in x_ticks:
        out.append(
            f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{TOP + plot_h}" y2="{TOP + plot_h + 5}" '
            'stroke="#333"/>'
        )
        crowded = px(x) - last_label < 18  # too close to the previous label: drop this one a line
        last_label = -math.inf if crowded else px(x)
        label_y = TOP + plot_h + (30 if crowded else 18)
        out.append(f'<text x="{px(x):.1f}" y="{label_y}" text-anchor="middle">{x:g}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>')
    out.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle">{escape(x_label)}</text>'
    )
    out.append(
        f'<text transform="translate(18 {TOP + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle">'
        f"{escape(y_label)}</text>"
    )
    for index, s in enumerate(series):
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for i, (x, y) in enumerate(s.points)
        )
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        out.append(f'<path d="{path}" fill="none" stroke="{s.color}" stroke-width="2"{dash}/>')
        if s.markers:
            out.extend(
                f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{s.color}"/>' for x, y in s.points
            )
        ly = TOP + 10 + index * 22
        lx = LEFT + plot_w + 14
        out.append(
            f'<line x1="{lx}" x2="{lx + 24}" y1="{ly}" y2="{ly}" stroke="{s.color}" stroke-width="2"{dash}/>'
        )
        out.append(f'<text x="{lx + 30}" y="{ly + 4}">{escape(s.label)}</text>')
    for x, y, text in annotations:
        out.append(
            f'<text x="{px(x) + 6:.1f}" y="{py(y) - 6:.1f}" fill="#555" font-size="11">{escape(text)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def stack(charts: Sequence[str]) -> str:
    """Charts from :func:`line_chart` one under the other, in one SVG document."""
    height = HEIGHT * len(charts)
    size = f'width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}"'
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" {size}>']
    for index, chart in enumerate(charts):
        out.append(chart.replace("<svg ", f'<svg y="{HEIGHT * index}" ', 1).rstrip("\n"))
    out.append("</svg>")
    return "\n".join(out) + "\n"
