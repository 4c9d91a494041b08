"""Query filters of the record lists. Declared explicitly: django-filter would otherwise
query the (scoped) default manager while the module loads."""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import MaxValueValidator, MinValueValidator

from medsync.api.fields import EARLIEST_DATE, LATEST_DATE
from patients import selectors
from patients.models import Coverage, Drug, Fill, Patient, Prescriber, Prescription
from patients.validators import normalize_ndc


class PatientFilter(django_filters.FilterSet):
    """Patients by status, or a search on name, date of birth, phone or rx number."""

    search = django_filters.CharFilter(
        method="filter_search",
        label="Name, DOB, phone or rx",
        max_length=selectors.SEARCH_MAX_LENGTH,
        help_text=f"Up to {selectors.SEARCH_MAX_LENGTH} characters; the first "
        f"{selectors.SEARCH_MAX_WORDS} words are matched.",
    )
    status = django_filters.CharFilter()

    class Meta:
        model = Patient
        fields = ["status"]

    def filter_search(self, queryset, name, value):
        # The viewset already cut the queryset to the patients the member may see.
        return queryset.filter(selectors.patient_search_condition(value))


class PrescriptionFilter(django_filters.FilterSet):
    """A patient's prescriptions, by status or sync decision."""

    patient = django_filters.UUIDFilter(field_name="patient__public_id")
    status = django_filters.CharFilter()
    sync_decision = django_filters.CharFilter()

    class Meta:
        model = Prescription
        fields = ["patient", "status", "sync_decision"]


class FillFilter(django_filters.FilterSet):
    """Fills of a prescription or a patient, since a date."""

    prescription = django_filters.UUIDFilter(field_name="prescription__public_id")
    patient = django_filters.UUIDFilter(field_name="prescription__patient__public_id")
    since = django_filters.DateFilter(
        field_name="fill_date",
        lookup_expr="gte",
        validators=[
            MinValueValidator(EARLIEST_DATE, message=f"A date on or after {EARLIEST_DATE}."),
            MaxValueValidator(LATEST_DATE, message=f"A date on or before {LATEST_DATE}."),
        ],
    )

    class Meta:
        model = Fill
        fields = ["prescription", "patient", "since"]


class CoverageFilter(django_filters.FilterSet):
    """A patient's coverage, by plan type."""

    patient = django_filters.UUIDFilter(field_name="patient__public_id")
    plan_type = django_filters.CharFilter()

    class Meta:
        model = Coverage
        fields = ["patient", "plan_type"]


class PrescriberFilter(django_filters.FilterSet):
    """Prescribers by NPI, or by the start of the last name."""

    search = django_filters.CharFilter(method="filter_search")
    npi = django_filters.CharFilter()

    class Meta:
        model = Prescriber
        fields = ["npi"]

    def filter_search(self, queryset, name, value):
        return queryset.filter(last_name__istartswith=value)


class DrugFilter(django_filters.FilterSet):
    """The catalog by name or NDC (any form), dosage form, schedule or class."""

    search = django_filters.CharFilter(method="filter_search", label="Name or NDC (any form)")
    therapeutic_class = django_filters.CharFilter(
        field_name="therapeutic_classes", lookup_expr="contains", method="filter_class"
    )

    class Meta:
        model = Drug
        fields = ["dosage_form", "unit_of_use", "dea_schedule"]

    def filter_search(self, queryset, name, value):
        try:
            return queryset.filter(ndc=normalize_ndc(value))
        except DjangoValidationError:
            return queryset.filter(name__icontains=value) | queryset.filter(
                generic_name__icontains=value
            )

    def filter_class(self, queryset, name, value):
        return queryset.filter(therapeutic_classes__contains=[value])
