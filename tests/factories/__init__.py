"""The one set of factory_boy factories every test and benchmark builds rows with."""

from tests.factories.bulk import bulk_build_create
from tests.factories.platform import (
    TEST_PASSWORD,
    MembershipFactory,
    OrganizationFactory,
    PharmacyFactory,
    UserFactory,
    valid_npi,
)
from tests.factories.programs import (
    InpatientStayFactory,
    PrepContactFactory,
    SyncCycleFactory,
    SyncEnrollmentFactory,
)
from tests.factories.records import (
    CoverageFactory,
    DrugFactory,
    FillFactory,
    InhalerFactory,
    PatientFactory,
    PrescriberFactory,
    PrescriptionFactory,
    SyncDrugFactory,
    SyncPrescriptionFactory,
)

__all__ = [
    "TEST_PASSWORD",
    "CoverageFactory",
    "DrugFactory",
    "FillFactory",
    "InhalerFactory",
    "InpatientStayFactory",
    "MembershipFactory",
    "OrganizationFactory",
    "PatientFactory",
    "PharmacyFactory",
    "PrepContactFactory",
    "PrescriberFactory",
    "PrescriptionFactory",
    "SyncCycleFactory",
    "SyncDrugFactory",
    "SyncEnrollmentFactory",
    "SyncPrescriptionFactory",
    "UserFactory",
    "bulk_build_create",
    "valid_npi",
]
