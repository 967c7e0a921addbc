"""What PostgreSQL cannot store in text or jsonb: NUL characters and unpaired surrogates.

One check for every way in (query strings, form posts, JSON bodies, filters, ingestion), so a
bad character is a clear 400 `invalid_text` instead of a database error.
"""

from collections.abc import Iterable


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored ("a NUL character", "an unpaired surrogate"), or None."""
    if "\x00" in value:
        return "a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "an unpaired surrogate"
    return None


def first_text_problem(value) -> str | None:
    """The first problem in any string of a JSON-like value (dict keys included), or None.

    Iterative, so a value nested deeper than Python's recursion limit is no problem here."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return problem
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return None


def strings_problem(values: Iterable[str]) -> str | None:
    for value in values:
        problem = text_problem(value)
        if problem:
            return problem
    return None


def depth(value) -> int:
    """How deeply a JSON-like value nests (a scalar: 0, `[]`: 1, `[[]]`: 2); iterative."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list | tuple):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item)
    return deepest
