"""API routes of the patients app, mounted under /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from patients import api
from patients.api import assessments, clinical
from patients.api.fhir import PatientFhirViewSet

router = SimpleRouter(trailing_slash=True)
router.register("patients", api.PatientViewSet, basename="api-patient")
router.register("prescriptions", api.PrescriptionViewSet, basename="api-prescription")
router.register("fills", api.FillViewSet, basename="api-fill")
router.register("prescribers", api.PrescriberViewSet, basename="api-prescriber")
router.register("coverages", api.CoverageViewSet, basename="api-coverage")
router.register("drugs", api.DrugViewSet, basename="api-drug")
router.register("imports", api.ImportViewSet, basename="api-import")
router.register("conditions", clinical.ConditionViewSet, basename="api-condition")
router.register("allergies", clinical.AllergyViewSet, basename="api-allergy")
router.register("immunizations", clinical.ImmunizationViewSet, basename="api-immunization")
router.register("inpatient-stays", clinical.InpatientStayViewSet, basename="api-inpatient-stay")
router.register(
    "assessment-templates", assessments.AssessmentTemplateViewSet, basename="api-assessment"
)
router.register(
    "assessment-responses",
    assessments.AssessmentResponseViewSet,
    basename="api-assessment-response",
)

urlpatterns: list = [
    path(
        "patients/<uuid:id>/fhir/",
        PatientFhirViewSet.as_view({"get": "retrieve"}),
        name="api-patient-fhir",
    ),
    *router.urls,
    path(
        "immunization-schedule/",
        assessments.ImmunizationScheduleView.as_view(),
        name="api-immunization-schedule",
    ),
    path(
        "patients/<uuid:id>/vaccines-due/",
        assessments.VaccinesDueView.as_view(),
        name="api-vaccines-due",
    ),
]
