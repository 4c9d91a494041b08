"""A serializer's read output built from `values()` rows (the fast path of the API lists).

Building a model object per row and walking DRF's per-field machinery (get_attribute, source
lookups, a fresh field set per request) was most of a list's time. A RowShape reads the
serializer's fields once: each plain field becomes a `values()` column converted by that
same field's `to_representation`, so a page renders the same bytes as the serializer's.
The serializer stays the OpenAPI schema's source; a field the shape cannot read from a column
(a method field, a nested object, a property) must be named in `computed` or `nested`, else the
shape fails to build, so a new serializer field cannot silently go missing from a list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import OuterRef, QuerySet, Subquery
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

# name -> (the columns it reads, the value from a row): a field no column holds as is.
Computed = dict[str, tuple[tuple[str, ...], Callable[[dict], Any]]]


class RowShape:
    def __init__(
        self,
        serializer_class: type[serializers.Serializer],
        *,
        prefix: str = "",
        computed: Computed | None = None,
        nested: dict[str, RowShape] | None = None,
        apart: tuple[str, ...] = (),
    ):
        self.serializer_class = serializer_class
        self.prefix = prefix  # "drug__": the shape of a related row read in the same query
        self.computed = computed or {}
        # name -> the shape (with its prefix) of a related object that is never null
        self.nested = nested or {}
        # Relations whose columns are read by a correlated subquery instead of a join: past
        # four or five joins PostgreSQL spends longer planning the page than running it.
        self.apart = apart

    @cached_property
    def _plan(self) -> list[tuple[str, str | None, Callable | None, Callable | None]]:
        # Built on first use (once per process): fields need the app registry.
        plan = []
        for name, field in self.serializer_class().fields.items():
            if field.write_only:
                continue
            if name in self.computed:
                plan.append((name, None, None, self.computed[name][1]))
            elif name in self.nested:
                plan.append((name, None, None, self.nested[name].one))
            elif isinstance(field, serializers.SlugRelatedField):
                # DRF gives the related object's slug as is (a UUID: JSON writes it as text).
                column = "__".join([*field.source_attrs, field.slug_field])
                plan.append((name, self.prefix + column, None, None))
            elif (
                isinstance(
                    field,
                    (
                        serializers.RelatedField,
                        serializers.ManyRelatedField,
                        serializers.BaseSerializer,
                        serializers.SerializerMethodField,
                    ),
                )
                or not field.source_attrs  # source="*": the whole object
            ):
                raise ImproperlyConfigured(
                    f"{self.serializer_class.__name__}.{name}: name it in `computed` or `nested`."
                )
            elif type(field).to_representation is serializers.Field.to_representation:
                raise ImproperlyConfigured(f"{self.serializer_class.__name__}.{name}: no output.")
            else:
                column = "__".join(field.source_attrs)
                plan.append((name, self.prefix + column, _converter(field), None))
        return plan

    @cached_property
    def columns(self) -> tuple[str, ...]:
        own = [column for _, column, _, _ in self._plan if column is not None]
        for needed, _ in self.computed.values():
            own.extend(self.prefix + column for column in needed)
        for shape in self.nested.values():
            own.extend(shape.columns)
        return tuple(dict.fromkeys(own))

    def values(self, queryset: QuerySet, *extra: str) -> CountedRows:
        """`queryset` as dict rows holding this shape's columns (and `extra` ones)."""
        columns = dict.fromkeys((*self.columns, *extra))
        rows = queryset.prefetch_related(None)
        apart = {
            column: _subquery(queryset.model, column)
            for column in columns
            if column.partition("__")[0] in self.apart
        }
        if apart:
            rows = rows.annotate(**apart)  # the same names: values() picks the annotation
        return CountedRows(rows.values(*columns), queryset)

    def one(self, row: dict) -> dict:
        out = {}
        for name, column, convert, compute in self._plan:
            if compute is not None:
                out[name] = compute(row)
                continue
            value = row[column]
            # As Serializer.to_representation: a null is null, whatever the field.
            out[name] = value if value is None or convert is None else convert(value)
        return out

    def many(self, rows: Iterable[dict]) -> list[dict]:
        return [self.one(row) for row in rows]


def _converter(field: serializers.Field) -> Callable:
    """The field's `to_representation`, or a builtin that gives the same for what a column
    of that type holds (a call less per value: a page of cycles converts ~1,500)."""
    method = type(field).to_representation
    if method is serializers.CharField.to_representation:
        return str
    if method is serializers.IntegerField.to_representation:
        return int
    if method is serializers.UUIDField.to_representation and field.uuid_format == "hex_verbose":
        return str
    if method is serializers.DateField.to_representation:
        output = getattr(field, "format", api_settings.DATE_FORMAT)
        if isinstance(output, str) and output.lower() == ISO_8601:
            return dt.date.isoformat  # a date column holds dates, never datetimes
    return field.to_representation


def _subquery(model, column: str) -> Subquery:
    """`column` ("patient__public_id") of the row's related object, by its foreign key."""
    relation, _, rest = column.partition("__")
    field = model._meta.get_field(relation)
    # The base manager: the outer rows are already the tenant's (and RLS still applies).
    related = field.related_model._base_manager.filter(pk=OuterRef(field.attname))
    return Subquery(related.order_by().values(rest))


class CountedRows:
    """values() rows that a paginator counts on the queryset they came from: a COUNT over the
    values() query would join every table its columns read (Django keeps those joins), while
    the model queryset's COUNT drops select_related and joins only what filters need."""

    def __init__(self, rows: QuerySet, counted: QuerySet):
        self.rows, self.counted = rows, counted

    @property
    def ordered(self) -> bool:
        return self.rows.ordered

    def count(self) -> int:
        return self.counted.count()

    def __getitem__(self, key):
        return self.rows[key]

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)
