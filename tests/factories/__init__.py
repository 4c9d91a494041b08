"""The one set of factory_boy factories every test and benchmark builds rows with."""

from tests.factories.billing import (
    PlanProductRuleFactory,
    PlanRuleFactory,
    PriceListEntryFactory,
    claim_subject,
)
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

__all__ = [
    "TEST_PASSWORD",
    "CoverageFactory",
    "DrugFactory",
    "FillFactory",
    "InhalerFactory",
    "MembershipFactory",
    "OrganizationFactory",
    "PatientFactory",
    "PharmacyFactory",
    "PlanProductRuleFactory",
    "PlanRuleFactory",
    "PrescriberFactory",
    "PrescriptionFactory",
    "PriceListEntryFactory",
    "SyncDrugFactory",
    "SyncPrescriptionFactory",
    "UserFactory",
    "bulk_build_create",
    "claim_subject",
    "valid_npi",
]
