"""Many rows at once, built by the same factories the tests use (for benchmarks and seeds).

`bulk_build_create(PatientFactory, rows)` builds one unsaved instance per dict of field
values with the factory (its defaults fill the rest), then writes them with one INSERT per
batch. Pass every foreign key the factory would otherwise create (organization, pharmacy,
drug, patient, ...): building never saves a sub-factory's row.
"""

from __future__ import annotations

from collections.abc import Iterable

import factory

BATCH_SIZE = 2000


def bulk_build_create(
    factory_class: type[factory.django.DjangoModelFactory],
    rows: Iterable[dict],
    *,
    batch_size: int = BATCH_SIZE,
) -> list:
    """The saved instances, in the order of `rows` (primary keys set: PostgreSQL returns them)."""
    instances = [factory_class.build(**row) for row in rows]
    model = factory_class._meta.model
    return model.objects.bulk_create(instances, batch_size=batch_size)
