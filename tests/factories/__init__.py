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
from tests.factories.service_billing import (
    AppointmentFactory,
    MedicalPayerFactory,
    PharmacistProviderFactory,
    ServiceFeeFactory,
    billing_setup,
)

__all__ = [
    "TEST_PASSWORD",
    "AppointmentFactory",
    "CoverageFactory",
    "DrugFactory",
    "FillFactory",
    "InhalerFactory",
    "MedicalPayerFactory",
    "MembershipFactory",
    "OrganizationFactory",
    "PatientFactory",
    "PharmacistProviderFactory",
    "PharmacyFactory",
    "PrescriberFactory",
    "PrescriptionFactory",
    "ServiceFeeFactory",
    "SyncDrugFactory",
    "SyncPrescriptionFactory",
    "UserFactory",
    "billing_setup",
    "bulk_build_create",
    "valid_npi",
]
