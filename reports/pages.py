"""What the report pages show, built from a selector's report: the table rows with the link of
every number, and the charts drawn from the same figures."""

from datetime import date, timedelta
from typing import Any

from core.periods import day_start
from reports.charts import Bar, BarRow, Line, Point, bar_chart, line_chart
from reports.links import leads_url
from reports.params import ReportParams
from reports.selectors.sources import REACHED

COHORT_STAGES = ("MQL", "PQL", "SAL", "SQL", "CUSTOMER")
# A stage as a column heading.
HEADINGS = {"CUSTOMER": "Customer"}
TREND = (("qualified", "MQL or PQL"), ("SAL", "SAL"), ("SQL", "SQL"), ("CUSTOMER", "Customer"))


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f}%"


def _funnel_stage(params: ReportParams, row: dict) -> dict:
    stage, nexts = row["stage"], row["next_stages"]
    converted_url = leads_url(params, reached=[stage, *nexts]) if len(nexts) == 1 else None
    return {
        **row,
        "reached_url": leads_url(params, reached=[stage]),
        "converted_url": converted_url,
        "dropped_url": leads_url(params, reached=[stage], not_reached=nexts) if nexts else None,
        "next_label": " or ".join(nexts) or "—",
    }


def _funnel_chart(params: ReportParams, report: dict) -> Any:
    rows = [
        BarRow(
            label=row["stage"],
            bars=[
                Bar(
                    value=row["reached"],
                    label=f"{row['stage']}: {row['reached']:,} of {report['leads']:,} leads "
                    f"({_percent(row['conversion_from_top'])})",
                    href=leads_url(params, reached=[row["stage"]]),
                )
            ],
        )
        for row in report["stages"]
    ]
    return bar_chart(
        title="Leads of the cohort that reached each stage",
        desc=", ".join(f"{row['stage']} {row['reached']}" for row in report["stages"]),
        rows=rows,
        series=["Reached"],
        axis="leads",
    )


def _month_end(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def _cohort_row(params: ReportParams, row: dict) -> dict:
    # The month's cohort, clipped to the period (its first and last months may be partial).
    start = max(day_start(row["month"]), params.start)
    end = min(day_start(_month_end(row["month"])), params.end)
    cells = [
        {
            "name": HEADINGS.get(stage, stage),
            "count": row["reached"][stage],
            "share": _percent(row["from_top"][stage]),
            "url": leads_url(params, start=start, end=end, reached=[stage]),
        }
        for stage in COHORT_STAGES
    ]
    return {
        "month": row["month"],
        "leads": row["leads"],
        "leads_url": leads_url(params, start=start, end=end),
        "cells": cells,
        "urls": {stage: cell["url"] for stage, cell in zip(COHORT_STAGES, cells, strict=True)},
    }


def _cohort_chart(rows: list[dict], report_rows: list[dict]) -> Any:
    lines = []
    for key, name in TREND:
        points = []
        for row, shown in zip(report_rows, rows, strict=True):
            share = row["qualified_from_top"] if key == "qualified" else row["from_top"][key]
            count = row["qualified"] if key == "qualified" else row["reached"][key]
            month = row["month"].strftime("%b %Y")
            points.append(
                Point(
                    value=share,
                    label=f"{month}: {name} {_percent(share)} ({count} of {row['leads']})",
                    href=shown["urls"].get(key),
                )
            )
        lines.append(Line(name=name, points=points))
    return line_chart(
        title="Monthly cohorts: share of each month's new leads that reached a stage",
        desc="; ".join(
            f"{row['month']:%b %Y}: {row['leads']} leads, "
            + ", ".join(f"{s} {row['reached'][s]}" for s in ("SAL", "SQL", "CUSTOMER"))
            for row in report_rows
        ),
        months=[f"{row['month']:%b %y}" for row in report_rows],
        lines=lines,
        axis="% of the month's leads",
    )


def funnel_page(params: ReportParams, report: dict) -> dict:
    """The funnel page's context: its stages, key figures and cohorts, with links and charts."""
    cohorts = [_cohort_row(params, row) for row in report["cohorts"]]
    return {
        "report": report,
        "leads_url": leads_url(params),
        "stages": [_funnel_stage(params, row) for row in report["stages"]],
        "funnel_chart": _funnel_chart(params, report),
        "customers_url": leads_url(params, reached=["CUSTOMER"]),
        "disqualified_url": leads_url(params, reached=["DISQUALIFIED"]),
        "to_sql_url": leads_url(params, reached=["IQL", "SQL"]),
        "to_customer_url": leads_url(params, reached=["IQL", "CUSTOMER"]),
        "cohorts": cohorts,
        "cohort_stages": [HEADINGS.get(stage, stage) for stage in COHORT_STAGES],
        "cohort_chart": _cohort_chart(cohorts, report["cohorts"]),
    }


def _source_row(params: ReportParams, row: dict, rank: int, *, campaign: bool) -> dict:
    scope = {"utm_campaign": row["key"]} if campaign else {"source": row["key"]}
    linked = bool(row["key"])  # "(no campaign)" has no filter value to link with
    cells = [
        {
            "name": HEADINGS.get(stage, stage),
            "count": row["reached"][stage],
            "share": _percent(row["rates"][stage]),
            "url": leads_url(params, reached=[stage], **scope) if linked else None,
        }
        for stage in REACHED
    ]
    return {
        **row,
        "rank": rank,
        "leads_url": leads_url(params, **scope) if linked else None,
        "cells": cells,
    }


def _sources_chart(title: str, rows: list[dict]) -> Any:
    names = ["Leads", "MQL", "SQL", "Customers"]
    keys = ["leads", "MQL", "SQL", "CUSTOMER"]
    chart_rows = []
    for row in rows:
        bars = []
        for name, key in zip(names, keys, strict=True):
            value = row["leads"] if key == "leads" else row["reached"][key]
            url = row["leads_url"] if key == "leads" else row["cells"][REACHED.index(key)]["url"]
            bars.append(Bar(value=value, label=f"{row['label']}: {value:,} {name}", href=url))
        chart_rows.append(BarRow(label=row["label"], bars=bars))
    return bar_chart(
        title=title,
        desc="; ".join(
            f"{row['label']}: {row['leads']} leads, {row['reached']['CUSTOMER']} customers"
            for row in rows
        ),
        rows=chart_rows,
        series=names,
        axis="leads",
    )


# The campaigns table and chart show this many; the rest are counted in a line under them.
TOP_CAMPAIGNS = 15


def sources_page(params: ReportParams, report: dict) -> dict:
    """The sources page's context: channels and campaigns ranked, with links and charts."""
    sources = [
        _source_row(params, row, rank, campaign=False)
        for rank, row in enumerate(report["sources"], 1)
    ]
    campaigns = [
        _source_row(params, row, rank, campaign=True)
        for rank, row in enumerate(report["campaigns"][:TOP_CAMPAIGNS], 1)
    ]
    return {
        "report": report,
        "stages": [HEADINGS.get(stage, stage) for stage in REACHED],
        "leads_url": leads_url(params),
        "sources": sources,
        "campaigns": campaigns,
        "more_campaigns": max(len(report["campaigns"]) - TOP_CAMPAIGNS, 0),
        "sources_chart": _sources_chart("Leads by source channel, and how far they got", sources),
        "campaigns_chart": _sources_chart("Leads by UTM campaign, and how far they got", campaigns),
    }
