"""API fields with the bounds every input needs."""

from __future__ import annotations

import datetime as dt

from django.core.validators import MaxValueValidator, MinValueValidator
from rest_framework import serializers

# Any date a pharmacy deals in (births, prescriptions, fills, plans) lies in this range;
# outside it, date arithmetic overflows (0001-01-01 minus a day) or means a typo.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2099, 12, 31)


class BoundedDateField(serializers.DateField):
    """A YYYY-MM-DD date from 1900-01-01 to 2099-12-31 (a 400 naming the field outside)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(
            MinValueValidator(EARLIEST_DATE, message=f"A date on or after {EARLIEST_DATE}.")
        )
        self.validators.append(
            MaxValueValidator(LATEST_DATE, message=f"A date on or before {LATEST_DATE}.")
        )


def date_param(request, name: str, default: dt.date) -> dt.date:
    """A bounded date from the query string (`default` when absent); a 400 naming `name`."""
    if name not in request.query_params:
        return default
    field = BoundedDateField()
    try:
        return field.run_validation(request.query_params[name])
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({name: exc.detail}) from None
