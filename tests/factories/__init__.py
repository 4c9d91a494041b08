"""The one set of factory_boy factories every test and benchmark builds rows with."""

from tests.factories.bulk import bulk_build_create
from tests.factories.platform import (
    TEST_PASSWORD,
    InboundEndpointFactory,
    MembershipFactory,
    OrganizationFactory,
    PharmacyFactory,
    UserFactory,
    WebhookSubscriptionFactory,
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
    "InboundEndpointFactory",
    "InhalerFactory",
    "MembershipFactory",
    "OrganizationFactory",
    "PatientFactory",
    "PharmacyFactory",
    "PrescriberFactory",
    "PrescriptionFactory",
    "SyncDrugFactory",
    "SyncPrescriptionFactory",
    "UserFactory",
    "WebhookSubscriptionFactory",
    "bulk_build_create",
    "valid_npi",
]
