"""Pages of the clinical record: the clinical panel of the patient page (conditions,
allergies, immunizations, stays, vaccines due, assessments taken) with its short add forms,
and taking an assessment on the record."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from medsync.decorators import require_permission
from medsync.roles import Perm, role_allows
from patients import selectors, services
from patients.agreement_models import AgreementKind, PatientAgreement
from patients.agreement_services import agreements_due
from patients.assessment_services import assessment_check, assessment_response_record
from patients.assessments import vaccines_due as screen
from patients.clinical_selectors import (
    assessment_form,
    assessment_templates,
    immunization_schedule,
    patient_clinical_record,
)
from patients.models import (
    Allergy,
    AllergyKind,
    AllergySeverity,
    Condition,
    ConditionStatus,
    Immunization,
    ImmunizationSource,
    InpatientStay,
    StayKind,
    StaySource,
)
from patients.validators import normalize_icd10


class ConditionForm(forms.Form):
    icd10_code = forms.CharField(max_length=10, label="ICD-10-CM")
    description = forms.CharField(max_length=200)
    onset_on = forms.DateField(required=False)
    status = forms.ChoiceField(choices=ConditionStatus.choices, initial=ConditionStatus.ACTIVE)

    def clean_icd10_code(self):
        try:
            return normalize_icd10(self.cleaned_data["icd10_code"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages[0]) from None


class AllergyForm(forms.Form):
    substance = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=AllergyKind.choices)
    reaction = forms.CharField(max_length=200, required=False)
    severity = forms.ChoiceField(choices=AllergySeverity.choices, initial=AllergySeverity.UNKNOWN)


class ImmunizationForm(forms.Form):
    vaccine = forms.CharField(max_length=30)
    product = forms.CharField(max_length=100, required=False)
    administered_on = forms.DateField()
    lot_number = forms.CharField(max_length=40, required=False)
    source = forms.ChoiceField(choices=ImmunizationSource.choices)

    def clean_vaccine(self):
        vaccine = self.cleaned_data["vaccine"]
        if vaccine not in immunization_schedule().keys:
            raise forms.ValidationError("Not a vaccine of the schedule.")
        return vaccine


class StayForm(forms.Form):
    kind = forms.ChoiceField(choices=StayKind.choices)
    admitted_on = forms.DateField()
    discharged_on = forms.DateField(required=False)
    note = forms.CharField(max_length=500, required=False)

    def clean(self):
        data = super().clean()
        admitted, discharged = data.get("admitted_on"), data.get("discharged_on")
        if admitted and discharged and discharged < admitted:
            self.add_error("discharged_on", "The discharge is on or after the admission.")
        return data


KINDS = {
    "condition": (Condition, ConditionForm, "recorded_by"),
    "allergy": (Allergy, AllergyForm, "recorded_by"),
    "immunization": (Immunization, ImmunizationForm, "recorded_by"),
    "stay": (InpatientStay, StayForm, "reported_by"),
}


def _not_future(form: forms.Form) -> None:
    today = timezone.localdate()
    for name in ("onset_on", "administered_on", "admitted_on", "discharged_on"):
        value = form.cleaned_data.get(name)
        if value is not None and value > today:
            form.add_error(name, "Not in the future.")


def clinical_panel(request, patient) -> dict | None:
    """The patient page's clinical section (registered in PatientsConfig.ready)."""
    if not role_allows(getattr(request.membership, "role", None), Perm.VIEW_PATIENTS):
        return None
    # Loaded by htmx (clinical_panel_view), so the record page keeps its fixed cost.
    return {
        "title": "Clinical record",
        "template": "patients/_clinical_panel_loader.html",
        "context": {"patient_id": patient.public_id},
    }


@require_permission(Perm.VIEW_PATIENTS)
def clinical_panel_view(request, public_id):
    """The clinical panel of the patient page (a fixed number of queries)."""
    patient = _patient_or_404(request, public_id)
    services.patient_viewed(patient=patient, actor=request.user, via="clinical_panel")
    return render(
        request,
        "patients/_clinical_panel.html",
        {"panel_context": _panel_context(request, patient)},
    )


def _panel_context(request, patient, **extra) -> dict:
    schedule = immunization_schedule()
    record = patient_clinical_record(patient)
    due = screen(
        schedule,
        birth_date=patient.date_of_birth,
        on_date=timezone.localdate(),
        history=[(shot.vaccine, shot.administered_on) for shot in record["immunizations"]],
        condition_codes=[
            c.icd10_code for c in record["conditions"] if c.status == ConditionStatus.ACTIVE
        ],
    )
    agreements = list(
        PatientAgreement.objects.filter(patient=patient).select_related("witnessed_by").defer("pdf")
    )
    return {
        "patient": patient,
        **record,
        "agreements": agreements,
        "agreements_due": [
            AgreementKind(kind).label for kind in agreements_due(agreements, timezone.localdate())
        ],
        "agreement_kinds": AgreementKind.choices,
        "vaccines_due": due,
        "vaccine_choices": [(v.key, v.name) for v in schedule.vaccines],
        "condition_statuses": ConditionStatus.choices,
        "allergy_kinds": AllergyKind.choices,
        "severities": AllergySeverity.choices,
        "sources": ImmunizationSource.choices,
        "stay_kinds": StayKind.choices,
        "templates": list(assessment_templates()),
        "can_edit": role_allows(request.membership.role, Perm.EDIT_PATIENTS),
        "errors": {},
        **extra,
    }


def _patient_or_404(request, public_id):
    patient = selectors.patient_with_record(public_id, membership=request.membership)
    if patient is None:
        raise Http404("No such patient.")
    return patient


@require_POST
@require_permission(Perm.EDIT_PATIENTS)
def clinical_add(request, public_id, kind):
    """Add a condition, allergy, immunization or stay (the panel again for htmx)."""
    if kind not in KINDS:
        raise Http404("No such record kind.")
    patient = _patient_or_404(request, public_id)
    model, form_class, by_field = KINDS[kind]
    form = form_class(request.POST)
    errors: dict = {}
    if form.is_valid():
        _not_future(form)
    if form.is_valid():
        fields = {**form.cleaned_data, "patient": patient, by_field: request.user}
        if kind == "stay":
            fields["source"] = StaySource.RECORD
        try:
            services.record_save(instance=model(), actor=request.user, fields=fields)
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    else:
        errors = form.errors
    if request.htmx:
        context = _panel_context(request, patient, errors={kind: errors} if errors else {})
        status = 400 if errors else 200
        return render(
            request,
            "patients/_clinical_panel.html",
            {"panel_context": context},
            status=status,
        )
    if errors:
        messages.error(request, "Not saved: " + " ".join(m for v in errors.values() for m in v))
    else:
        messages.success(request, f"{model._meta.verbose_name.capitalize()} added.")
    return redirect(reverse("patient-detail", args=[patient.public_id]) + "#clinical")


@require_permission(Perm.EDIT_PATIENTS)
def assessment_take(request, public_id, template_id):
    """Ask one assessment on the record (display conditions live); the response keeps the
    version it was taken with, flags listed on the record."""
    patient = _patient_or_404(request, public_id)
    template = assessment_templates().filter(public_id=template_id).first()
    if template is None or template.current_version is None:
        raise Http404("No such assessment.")
    form = assessment_form(template, f"a-{template.key}-")
    problems: list[str] = []
    if request.method == "POST":
        prefix = form["prefix"]
        answers = {
            name[len(prefix) :]: value
            for name, value in request.POST.items()
            if name.startswith(prefix)
        }
        try:
            result = assessment_check(template, answers)
        except ValidationError as exc:
            problems = exc.messages
        else:
            response = assessment_response_record(
                patient=patient,
                template=template,
                answers=answers,
                actor=request.user,
                result=result,
            )
            flags = "; ".join(f["label"] for f in response.flags)
            score = f" Score {response.score}." if response.score is not None else ""
            messages.success(
                request,
                f"{template.name} recorded.{score}" + (f" Flagged: {flags}." if flags else ""),
            )
            return redirect(reverse("patient-detail", args=[patient.public_id]) + "#clinical")
    services.patient_viewed(patient=patient, actor=request.user, via="assessment")
    return render(
        request,
        "patients/assessment_take.html",
        {"patient": patient, "form": form, "problems": problems},
        status=400 if problems else 200,
    )
