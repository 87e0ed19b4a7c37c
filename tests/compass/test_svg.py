from __future__ import annotations

import xml.etree.ElementTree as ET

from compass.balance import check_balance
from compass.model import VALUES, Quadrant
from compass.svg import render_compass_svg, render_trend_svg

NS = "{http://www.w3.org/2000/svg}"


def _texts(root: ET.Element) -> list[str]:
    return ["".join(el.itertext()) for el in root.iter(f"{NS}text")]


class TestCompassSvg:
    def test_parses_and_is_accessible(self, items_from_counts) -> None:
        svg = render_compass_svg(check_balance(items_from_counts([10, 4, 3, 3])), size=300)
        root = ET.fromstring(svg)
        assert root.tag == f"{NS}svg"
        assert root.get("role") == "img"
        assert root.get("width") == "300"
        assert "Try new things is overweight" in root.get("aria-label", "")
        assert root.find(f"{NS}title").text == "Compass balance"
        assert "Try new things 50%" in root.find(f"{NS}desc").text

    def test_labels_all_eight_values(self, items_from_counts) -> None:
        root = ET.fromstring(render_compass_svg(check_balance(items_from_counts([6, 5, 5, 4]))))
        texts = " | ".join(_texts(root))
        for value in VALUES:
            assert value.label in texts
        assert "Try new things30%" in texts  # the share on a second line (tspan)

    def test_labels_are_drawn_large(self, items_from_counts) -> None:
        root = ET.fromstring(render_compass_svg(check_balance(items_from_counts([6, 5, 5, 4]))))
        width = float(root.get("viewBox").split()[2])
        sizes = {float(t.get("font-size")) for t in root.iter(f"{NS}text")}
        # at the page's 480 px or more, every label reads at 15 px or more
        assert min(sizes) * 480 / width >= 15

    def test_shares_and_target_shapes(self, items_from_counts) -> None:
        root = ET.fromstring(render_compass_svg(check_balance(items_from_counts([5, 5, 5, 5]))))
        polygons = {p.get("class"): p.get("points") for p in root.iter(f"{NS}polygon")}
        # an exactly even mix draws exactly on the target
        assert polygons["compass-shares"] == polygons["compass-target"]

    def test_escapes_title(self) -> None:
        svg = render_compass_svg(check_balance([]), title='<script>"x" & y</script>')
        root = ET.fromstring(svg)
        assert root.find(f"{NS}title").text == '<script>"x" & y</script>'
        assert "<script>" not in svg


class TestTrendSvg:
    def test_stacked_bars(self) -> None:
        weeks = [(f"W{i}", {Quadrant.TRY: 2, "share": 1, "care": 1, "learn": 0}) for i in range(14)]
        root = ET.fromstring(render_trend_svg(weeks))
        assert root.get("role") == "img"
        texts = _texts(root)
        assert "W13" in texts and "W1" not in texts  # only the last 12 weeks
        tips = ["".join(t.itertext()) for r in root.iter(f"{NS}rect") for t in r.iter(f"{NS}title")]
        assert "W13: Try new things 50%" in tips
        assert "Learn new things" in texts  # legend

    def test_empty_weeks_are_skipped_and_text_escaped(self) -> None:
        root = ET.fromstring(render_trend_svg([("<wk & 1>", {}), ("<wk & 2>", {"try": 2})],
                                              title="A & B"))
        assert "<wk & 1>" not in _texts(root) and "<wk & 2>" in _texts(root)
        assert "1 week(s) without posts not drawn" in root.find(f"{NS}desc").text
        assert root.find(f"{NS}title").text == "A & B"

    def test_labels_are_readable(self) -> None:
        root = ET.fromstring(render_trend_svg([("W1", {"try": 1, "care": 1})]))
        sizes = {float(t.get("font-size")) for t in root.iter(f"{NS}text")}
        assert min(sizes) >= 12

    def test_no_weeks(self) -> None:
        root = ET.fromstring(render_trend_svg([]))
        assert root.find(f"{NS}desc").text == "No weeks to show"


def test_trend_week_with_only_some_quadrants():
    """A week in which only one value was posted still draws (regression)."""
    import xml.etree.ElementTree as ET

    from compass import Quadrant, render_trend_svg

    svg = render_trend_svg([("01 Dec", {Quadrant.TRY: 2.0}), ("08 Dec", {"learn": 1.0}),
                            ("15 Dec", {})])
    ET.fromstring(svg)
    assert "Share with others 0%" in svg
