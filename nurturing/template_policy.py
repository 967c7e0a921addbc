"""What a marketer's email template may contain: the listed variables, a fixed set of harmless
filters and a few plain tags. Checked when a step is saved, so that a template which would put a
lead's raw HTML into an email (`|safe`, `{% autoescape off %}`) or blow a field up to megabytes
(`|center:"1000000"`) never reaches a send.

Pure: it walks the compiled template's nodes and touches no database.
"""

from collections.abc import Iterator

from django.template import Template
from django.template.base import FilterExpression, Node, TextNode, Variable, VariableNode
from django.template.defaultfilters import register as builtin_filters
from django.template.defaulttags import (
    CommentNode,
    FirstOfNode,
    IfNode,
    NowNode,
    SpacelessNode,
    TemplateTagNode,
    VerbatimNode,
    WithNode,
)

# What `lead_context` gives a template (emails.SAMPLE_CONTEXT holds a sample of each).
VARIABLES = ("first_name", "last_name", "full_name", "company", "title", "owner_name", "email")

# Filters that only reshape a short string. Not here: `safe` and `safeseq` (raw HTML),
# `stringformat` (a width pads without bound), `urlize` (makes links of what a lead typed).
FILTERS = frozenset(
    {
        "capfirst", "cut", "default", "default_if_none", "escape", "first", "force_escape",
        "last", "length", "linebreaks", "linebreaksbr", "lower", "pluralize", "slice",
        "slugify", "striptags", "title", "truncatechars", "truncatewords", "upper", "urlencode",
        "wordcount", "wordwrap", "yesno",
    }
)  # fmt: skip
# Padding filters, allowed up to this width.
PADDING = frozenset({"center", "ljust", "rjust"})
MAX_PADDING = 100

# Tags: conditions, aliases, comments, `firstof`, `now`, `spaceless`, `verbatim`,
# `templatetag`. Not `for` (the context holds no lists, and nested loops over a string's
# characters multiply without bound), `autoescape`, `cycle`, `lorem`, `debug`, `url`, ...
NODES = (
    TextNode, VariableNode, IfNode, WithNode, CommentNode, FirstOfNode, NowNode,
    SpacelessNode, VerbatimNode, TemplateTagNode,
)  # fmt: skip

_FILTER_NAMES = {func: name for name, func in builtin_filters.filters.items()}


class TemplateRefused(ValueError):
    """The template uses something a marketer's template may not."""


def check(template: Template) -> None:
    """Raise TemplateRefused with a message that says why, or return when the template is fine."""
    _check_nodes(template.nodelist, bound=frozenset())


def _check_nodes(nodes, *, bound: frozenset[str]) -> None:
    for node in nodes:
        _check_node(node, bound=bound)


def _check_node(node: Node, *, bound: frozenset[str]) -> None:
    if not isinstance(node, NODES):
        raise TemplateRefused(_refused_tag(node))
    inner = bound
    if isinstance(node, WithNode):
        for expression in node.extra_context.values():
            _check_expression(expression, bound=bound)
        inner = bound | frozenset(node.extra_context)
    for expression in _expressions(node):
        _check_expression(expression, bound=bound)
    for name in node.child_nodelists:
        _check_nodes(getattr(node, name, None) or [], bound=inner)
    if isinstance(node, IfNode):
        for _condition, nodelist in node.conditions_nodelists:
            _check_nodes(nodelist, bound=bound)


def _refused_tag(node: Node) -> str:
    token = getattr(node, "token", None)
    name = token.split_contents()[0] if token is not None else type(node).__name__
    if name == "autoescape":
        return (
            "The {% autoescape %} tag is not allowed: with autoescape off a lead's own text "
            "would go into the email as raw HTML."
        )
    return f"The {{% {name} %}} tag is not allowed in an email template."


def _expressions(node: Node) -> Iterator[FilterExpression]:
    if isinstance(node, VariableNode):
        yield node.filter_expression
    elif isinstance(node, FirstOfNode):
        yield from node.vars
    elif isinstance(node, IfNode):
        for condition, _nodelist in node.conditions_nodelists:
            yield from _condition_expressions(condition)


def _condition_expressions(condition) -> Iterator[FilterExpression]:
    """The expressions of an {% if %} condition: a literal, or an operator over one or two."""
    if condition is None:  # the {% else %} branch
        return
    value = getattr(condition, "value", None)
    if isinstance(value, FilterExpression):
        yield value
    for side in ("first", "second"):
        part = getattr(condition, side, None)
        if part is not None:
            yield from _condition_expressions(part)


def _check_expression(expression: FilterExpression, *, bound: frozenset[str]) -> None:
    if isinstance(expression.var, Variable):
        _check_variable(expression.var, bound=bound)
    for func, args in expression.filters:
        name = _FILTER_NAMES.get(func, getattr(func, "__name__", "?"))
        _check_filter(name, args, bound=bound)


def _check_variable(variable: Variable, *, bound: frozenset[str]) -> None:
    if variable.literal is not None:
        return
    name = variable.var
    if name in VARIABLES or name in bound:
        return
    listed = ", ".join(VARIABLES)
    raise TemplateRefused(f"Unknown variable {{{{ {name} }}}}: use one of {listed}.")


def _check_filter(name: str, args, *, bound: frozenset[str]) -> None:
    if name in ("safe", "safeseq"):
        raise TemplateRefused(
            f"The |{name} filter is not allowed: it would put a lead's own text into the "
            "email as raw HTML."
        )
    if name in PADDING:
        _check_padding(name, args)
    elif name not in FILTERS:
        raise TemplateRefused(
            f"The |{name} filter is not allowed; use one of: "
            + ", ".join(sorted(FILTERS | PADDING))
            + "."
        )
    for is_lookup, arg in args:
        if is_lookup:
            _check_variable(arg, bound=bound)


def _check_padding(name: str, args) -> None:
    width = _literal_int(args[0]) if args else None
    if width is None or not 0 <= width <= MAX_PADDING:
        raise TemplateRefused(
            f"The |{name} filter pads to at most {MAX_PADDING} characters: give a number "
            f'from 0 to {MAX_PADDING}, e.g. |{name}:"20".'
        )


def _literal_int(arg) -> int | None:
    """A filter argument's value when it is a literal integer (`:20` or `:"20"`), else None."""
    is_lookup, value = arg
    if is_lookup:
        value = value.literal  # `:20` is a Variable whose literal is 20; a name has None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        return None
