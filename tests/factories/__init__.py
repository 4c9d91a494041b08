"""The one set of factory_boy factories every test and benchmark builds rows with."""

from tests.factories.billing import (
    PlanProductRuleFactory,
    PlanRuleFactory,
    PriceListEntryFactory,
    claim_subject,
)
from tests.factories.bulk import bulk_build_create
from tests.factories.clinical import AllergyFactory, ConditionFactory, ImmunizationFactory
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
from tests.factories.programs import (
    InpatientStayFactory,
    PrepContactFactory,
    SyncCycleFactory,
    SyncEnrollmentFactory,
)
from tests.factories.queue import build_fill_queue
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
    "AllergyFactory",
    "AppointmentFactory",
    "ConditionFactory",
    "CoverageFactory",
    "DrugFactory",
    "FillFactory",
    "ImmunizationFactory",
    "InboundEndpointFactory",
    "InhalerFactory",
    "InpatientStayFactory",
    "MedicalPayerFactory",
    "MembershipFactory",
    "OrganizationFactory",
    "PatientFactory",
    "PharmacistProviderFactory",
    "PharmacyFactory",
    "PlanProductRuleFactory",
    "PlanRuleFactory",
    "PrepContactFactory",
    "PrescriberFactory",
    "PrescriptionFactory",
    "PriceListEntryFactory",
    "ServiceFeeFactory",
    "SyncCycleFactory",
    "SyncDrugFactory",
    "SyncEnrollmentFactory",
    "SyncPrescriptionFactory",
    "UserFactory",
    "WebhookSubscriptionFactory",
    "billing_setup",
    "build_fill_queue",
    "bulk_build_create",
    "claim_subject",
    "valid_npi",
]
