"""Serializer fields bounded to their database column's range.

An unbounded IntegerField lets 2**64 through to a query or an INSERT, which PostgreSQL refuses
with an error (a 500). These say the range in the 400 instead.
"""

from rest_framework import serializers

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
BIGINT_MAX = 2**63 - 1


def IdField(**kwargs) -> serializers.IntegerField:  # noqa: N802 - reads as a field class
    """A row id (a bigint primary key)."""
    kwargs.setdefault("min_value", 1)
    return serializers.IntegerField(max_value=BIGINT_MAX, **kwargs)


def IntField(**kwargs) -> serializers.IntegerField:  # noqa: N802
    """A number stored in an `integer` column."""
    kwargs.setdefault("min_value", INT_MIN)
    kwargs.setdefault("max_value", INT_MAX)
    return serializers.IntegerField(**kwargs)
