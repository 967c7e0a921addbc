"""How the report pages write their figures."""

from django import template

register = template.Library()


@register.filter
def pct(share: float | None) -> str:
    """A share (0..1) as a percentage to one place; a dash when there is none."""
    return "—" if share is None else f"{share * 100:.1f}%"


@register.filter
def num(value: int | None) -> str:
    """A count with thousands separated; a dash for none."""
    return "—" if value is None else f"{value:,}"


@register.filter
def days(value: float | None) -> str:
    """Days to one place; a dash when nothing was measured."""
    return "—" if value is None else f"{value:.1f} d"
