"""The server-drawn SVG charts: a title and description, text labels, links, escaping."""

from reports.charts import Bar, BarRow, Line, Point, bar_chart, line_chart


def _bars(label="Paid search"):
    return bar_chart(
        title="Leads by source",
        desc="Paid search 40 leads",
        rows=[BarRow(label=label, bars=[Bar(40, "40 leads", "/leads/?source=paid_search")])],
        series=["Leads"],
        axis="leads",
    )


def test_a_bar_chart_has_a_title_text_labels_and_links():
    svg = str(_bars())

    assert svg.startswith('<svg class="chart single" viewBox="0 0 460 ')
    assert 'role="img"' in svg
    assert ">Leads by source</title>" in svg and ">Paid search 40 leads</desc>" in svg
    assert ">Paid search</text>" in svg and ">leads</text>" in svg  # label and axis
    assert '<a href="/leads/?source=paid_search"><rect class="bar s0"' in svg
    assert ">40</text>" in svg  # the value, as text
    # The axis runs to a round number at or above the largest bar: 0, 10, 20, 30, 40.
    assert [f">{n}</text>" in svg for n in (0, 10, 20, 30, 40)] == [True] * 5


def test_labels_are_escaped():
    svg = str(_bars(label='<script>alert("x")</script>'))

    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg


def test_a_line_chart_skips_months_without_leads_and_links_its_points():
    svg = str(
        line_chart(
            title="Cohorts",
            desc="by month",
            months=["Mar 26", "Apr 26", "May 26"],
            lines=[
                Line(
                    "SAL",
                    [
                        Point(0.5, "Mar: 50%", "/leads/?m=3"),
                        Point(None, "Apr: none"),
                        Point(0.25, "May: 25%", "/leads/?m=5"),
                    ],
                )
            ],
            axis="% of the month's leads",
        )
    )

    assert svg.count("<circle") == 2 and "Apr: none" not in svg
    assert '<a href="/leads/?m=3"><circle' in svg
    assert ">Mar 26</text>" in svg and ">60%</text>" in svg  # a month; the y axis: 0..60%
    assert "<polyline" in svg


def test_the_label_column_fits_the_longest_label_and_shortens_beyond_its_width():
    # 172 px of room at the widest column (180, less the 8 px gap): 21 letters "a" (8 px each)
    # fit whole, 22 do not.
    whole = str(_bars(label="a" * 21))
    assert ">" + "a" * 21 + "</text>" in whole and "<title>" + "a" * 21 not in whole
    assert 'x="168" ' in whole  # the column widened to the label (8 + 168), its text ends at 168

    cut = str(_bars(label="a" * 22))
    assert "<title>" + "a" * 22 + "</title>" in cut  # the whole name, in the tooltip
    assert ">" + "a" * 20 + "\u2026</text>" in cut  # 20 letters and the ellipsis fit in 172

    short = str(_bars(label="Other"))
    assert 'x="110" ' in short  # a short label keeps the narrowest column (118 - 8)
