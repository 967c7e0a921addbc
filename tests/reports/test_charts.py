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
