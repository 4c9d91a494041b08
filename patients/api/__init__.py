"""The patient-records API, mounted under /api/v1/ by `patients.api_urls`.

serializers.py and filters.py per resource, records.py for the record viewsets, imports.py for
CSV imports. This module only re-exports the names the URL conf and other code use.
"""

from patients.api.filters import (
    CoverageFilter,
    DrugFilter,
    FillFilter,
    PatientFilter,
    PrescriberFilter,
    PrescriptionFilter,
)
from patients.api.imports import ImportBatchSerializer, ImportFileSerializer, ImportViewSet
from patients.api.records import (
    READ_WRITE,
    AuditedRecordViewSet,
    CoverageViewSet,
    DrugViewSet,
    FillViewSet,
    PatientViewSet,
    PrescriberViewSet,
    PrescriptionViewSet,
)
from patients.api.serializers import (
    CoverageSerializer,
    DrugByNdcField,
    DrugSerializer,
    FillSerializer,
    PatientSerializer,
    PrescriberSerializer,
    PrescriptionSerializer,
    PublicIdField,
    RecordSerializer,
)

__all__ = [
    "READ_WRITE",
    "AuditedRecordViewSet",
    "CoverageFilter",
    "CoverageSerializer",
    "CoverageViewSet",
    "DrugByNdcField",
    "DrugFilter",
    "DrugSerializer",
    "DrugViewSet",
    "FillFilter",
    "FillSerializer",
    "FillViewSet",
    "ImportBatchSerializer",
    "ImportFileSerializer",
    "ImportViewSet",
    "PatientFilter",
    "PatientSerializer",
    "PatientViewSet",
    "PrescriberFilter",
    "PrescriberSerializer",
    "PrescriberViewSet",
    "PrescriptionFilter",
    "PrescriptionSerializer",
    "PrescriptionViewSet",
    "PublicIdField",
    "RecordSerializer",
]
