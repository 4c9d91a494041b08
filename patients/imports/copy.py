"""Set-based writes for big files: COPY the checked rows into a temporary table, then one
INSERT ... ON CONFLICT upserts them into the tenant table.

Rows are checked in Python first (every value against its column, see base.check_bounds), so
the database sees only rows that fit. The temporary table is the session's own (the app role
may create one; it may not COPY into a table with row-level security), and the upsert runs as
the app role, so RLS still checks every row's organization.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.db import connection, models

STAGE = "import_stage"


def _copy_text(value) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "{" + ",".join(str(v) for v in value) + "}"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(connection.ops.quote_name(n) for n in names)


def _columns(model: type[models.Model], fields: Sequence[str]) -> list[str]:
    return [model._meta.get_field(name).column for name in fields]


def copy_line(row: Sequence) -> str:
    """One row in COPY's text format (callers with a known shape may build it faster)."""
    return "\t".join(_copy_text(v) for v in row) + "\n"


def stage_rows(model: type[models.Model], fields: Sequence[str], lines: Iterable[str]) -> None:
    """COPY `lines` (copy_line of the values of `fields`, in order) into this transaction's
    staging table, shaped like those columns of `model`'s table (each value is cast to the
    column's type)."""
    table = connection.ops.quote_name(model._meta.db_table)
    listed = _quoted(_columns(model, fields))
    buffer = io.StringIO("".join(lines))
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGE}")
        cursor.execute(
            f"CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS SELECT {listed} FROM {table} WITH NO DATA"  # noqa: S608 - names are ours
        )
        cursor.copy_expert(f"COPY {STAGE} ({listed}) FROM STDIN", buffer)


def _match(model, keys: Sequence[str]) -> str:
    return " AND ".join(f"t.{c} = s.{c}" for c in _columns(model, keys))


def _differs(model, fields: Sequence[str], left: str, right: str) -> str:
    columns = _columns(model, fields)
    return (
        f"({', '.join(f'{left}.{c}' for c in columns)}) IS DISTINCT FROM "
        f"({', '.join(f'{right}.{c}' for c in columns)})"
    )


def count_staged(
    model: type[models.Model], *, keys: Sequence[str], compare: Sequence[str], organization_id: int
) -> tuple[int, int, int]:
    """(created, updated, unchanged): how the staged rows compare with the stored ones."""
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FILTER (WHERE t.id IS NULL), "  # noqa: S608 - names are ours
            f"count(*) FILTER (WHERE t.id IS NOT NULL AND {_differs(model, compare, 't', 's')}), "
            f"count(*) FROM {STAGE} s LEFT JOIN {table} t "
            f"ON t.organization_id = %s AND {_match(model, keys)}",
            [organization_id],
        )
        created, updated, total = cursor.fetchone()
    return created, updated, total - created - updated


def upsert_staged(
    model: type[models.Model],
    fields: Sequence[str],
    *,
    keys: Sequence[str],
    update: Sequence[str],
    organization_id: int,
    returning: str,
) -> list[tuple]:
    """Write the staged rows into `model`'s table: one INSERT of the rows whose natural
    `keys` match nothing stored, one UPDATE of the stored rows whose `update` fields differ
    (the import holds its batch, so nothing else writes these keys meanwhile; a concurrent
    writer would meet the unique constraint and roll the import back whole). Returns, for
    each row written, (`returning` column, True if inserted / False if updated)."""
    meta = model._meta
    table = connection.ops.quote_name(meta.db_table)
    listed = _quoted(_columns(model, fields))
    extra_columns, extra_values = ["organization_id"], ["%s"]
    for field in meta.concrete_fields:
        if field.name == "public_id":
            extra_columns.append("public_id")
            extra_values.append("gen_random_uuid()")
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            extra_columns.append(field.column)
            extra_values.append("now()")
    touched = _columns(model, update)
    assignments = ", ".join(
        [f"{c} = s.{c}" for c in touched]
        + [f"{f.column} = now()" for f in meta.concrete_fields if getattr(f, "auto_now", False)]
    )
    back = meta.get_field(returning).column
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS t SET {assignments} FROM {STAGE} s "  # noqa: S608
            f"WHERE t.organization_id = %s AND {_match(model, keys)} "
            f"AND {_differs(model, update, 't', 's')} RETURNING t.{back}",
            [organization_id],
        )
        written = [(row[0], False) for row in cursor.fetchall()]
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(extra_columns)}, {listed}) "  # noqa: S608
            f"SELECT {', '.join(extra_values)}, {listed} FROM {STAGE} s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {table} t WHERE t.organization_id = %s AND {_match(model, keys)}) "
            f"RETURNING {back}",
            [organization_id, organization_id],
        )
        written += [(row[0], True) for row in cursor.fetchall()]
        cursor.execute(f"DROP TABLE pg_temp.{STAGE}")
    return written
