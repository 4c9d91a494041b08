"""The API fuzzed from its own OpenAPI schema (schemathesis), once per Maple role.

Every operation of /api/v1/schema/ gets generated requests, valid and invalid, sent
in-process to Django's WSGI handler with the role's bearer token. Each response must
not be a server error, must carry a status code and content type the schema documents
for that operation, and must match the documented body. Ids in paths, queries and
bodies point at real rows three times in four (so found, refused and not-found paths
are all walked); the technician is limited to Main St, whose rows the ids name.

Bounded and deterministic: derandomized generation (the same requests every run), a few
examples per operation and mode, no example database, no shrinking. Raise
FUZZ_MAX_EXAMPLES locally to dig deeper.

The loop over operations is ours rather than `schemathesis.pytest.from_fixture`, whose
lazy runner sets `Item._nodeid`, which pytest 9.2 no longer has.
"""

from __future__ import annotations

import os
from unittest import SkipTest

import hypothesis
import pytest
import schemathesis
from django.db import transaction
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# Generated requests per operation: valid ones, then invalid ones (x 3 roles x 67 operations).
MAX_EXAMPLES = {
    GenerationMode.POSITIVE: int(os.environ.get("FUZZ_MAX_EXAMPLES", "4")),
    GenerationMode.NEGATIVE: int(os.environ.get("FUZZ_MAX_EXAMPLES", "3")),
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SETTINGS = hypothesis.settings(
    derandomize=True,
    database=None,
    deadline=None,
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    suppress_health_check=list(hypothesis.HealthCheck),
    verbosity=hypothesis.Verbosity.quiet,
)

# What a path, query or body field names -> which kind of real row its id should point at.
PATH_KINDS = {
    "pharmacies": "pharmacy",
    "patients": "patient",
    "prescriptions": "prescription",
    "fills": "fill",
    "coverages": "coverage",
    "prescribers": "prescriber",
    "drugs": "drug",
    "enrollments": "enrollment",
    "cycles": "cycle",
    "messages": "message",
    "conversations": "conversation",
    "imports": "import",
}
FIELD_KINDS = {
    "patient": "patient",
    "prescription": "prescription",
    "prescriptions": "prescription",
    "prescriber": "prescriber",
    "conversation": "conversation",
    "pharmacy": "pharmacy",
    "pharmacy_id": "pharmacy",
    "assignee": "user",
}


def _point_at_real_rows(case, known) -> None:
    segments = [s for s in case.operation.path.split("/") if s]
    resource = segments[2] if len(segments) > 2 else ""
    if case.path_parameters and "id" in case.path_parameters and resource in PATH_KINDS:
        case.path_parameters["id"] = known.pick(PATH_KINDS[resource], case.path_parameters["id"])
    for container in (case.query, case.body):
        if not isinstance(container, dict):
            continue
        for name, kind in FIELD_KINDS.items():
            value = container.get(name)
            if isinstance(value, list):
                container[name] = [known.pick(kind, v) for v in value]
            elif value is not None:
                container[name] = known.pick(kind, value)


def _fuzz_operation(operation, mode, *, known, caller) -> str | None:
    """None when every generated request passed; else the first failure, with its curl."""
    revokes_its_token = operation.label == "DELETE /api/v1/auth/token/"

    @hypothesis.settings(SETTINGS, max_examples=MAX_EXAMPLES[mode])
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        _point_at_real_rows(case, known)
        token = caller.fresh_token() if revokes_its_token else caller.token
        headers = {"Authorization": f"Bearer {token}"}
        # A savepoint per request: a server error that broke the transaction is rolled back
        # to here (and reported), so it cannot fail every request after it.
        with transaction.atomic():
            response = case.call(headers=headers)
            if response.status_code >= 500:
                transaction.set_rollback(True)
        case.validate_response(response, checks=CHECKS, headers=headers)

    try:
        run()
    except (SkipTest, Unsatisfiable):
        return None  # nothing of this mode to generate (e.g. no parameter can be made invalid)
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup is the latter
        return f"{operation.label} [{mode}]: {str(exc)[:3000]}"
    return None


def test_the_api_keeps_its_schema(wsgi_app, caller, seeded):
    schema = schemathesis.openapi.from_wsgi(
        "/api/v1/schema/?format=json",
        wsgi_app,
        headers={"Authorization": f"Bearer {caller.token}"},
    )
    schema.config.generation.update(with_security_parameters=False)
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()  # an operation the schema cannot describe is a failure too
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failure = _fuzz_operation(operation, mode, known=seeded, caller=caller)
            if failure:
                failures.append(failure)
    assert operations > 60, "the schema lost operations"
    assert not failures, f"{len(failures)} operations broke the schema:\n\n" + "\n\n".join(failures)


@pytest.mark.django_db
def test_the_schema_and_its_docs_need_a_signed_in_person_or_a_token(client, api_client_for, maple):
    anonymous = client.get("/api/v1/schema/?format=json")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 302 and docs["Location"].startswith("/accounts/login/")

    with_token = api_client_for(maple.technician).get("/api/v1/schema/?format=json")
    assert with_token.status_code == 200
    assert "/api/v1/patients/" in with_token.json()["paths"]


@pytest.mark.django_db
def test_the_schema_tells_the_truth_about_errors_blanks_and_nulls(api_client_for, maple):
    document = api_client_for(maple.pharmacist).get("/api/v1/schema/?format=json").json()
    components = document["components"]["schemas"]
    assert components["ErrorResponse"]["properties"]["error"]["required"] == [
        "code",
        "message",
        "fields",
    ]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            documented = set(operation["responses"])
            expected = {"400", "401", "403", "404", "405", "406", "409", "429"}
            if "requestBody" in operation:
                expected |= {"413", "415"}
            assert expected <= documented, (method, path, expected - documented)
            assert operation["responses"]["404"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorResponse"
            }
    # What the API returns for a patient without a home pharmacy, a text never skipped
    # and a prescription in sync.
    assert components["Patient"]["properties"]["home_pharmacy"]["nullable"] is True
    skip_reason = components["Message"]["properties"]["skip_reason"]
    assert {"$ref": "#/components/schemas/BlankEnum"} in skip_reason["oneOf"]
    exclusion = components["Prescription"]["properties"]["sync_exclusion_reason"]
    assert {"$ref": "#/components/schemas/BlankEnum"} in exclusion["oneOf"]


@pytest.mark.django_db
def test_dates_the_fuzzer_reached_are_bounded(api_client_for, maple, seeded):
    """POST /patients/{id}/sync-plan/ with anchor_date 9999-12-31 was a 500 (OverflowError in
    the plan's date arithmetic); a record's dates took year 1."""
    from medsync.tenancy import tenant_scope
    from patients.models import Patient

    api = api_client_for(maple.pharmacist)
    patient, rx = seeded.by_kind["patient"], seeded.by_kind["prescription"]
    plan = api.post(
        f"/api/v1/patients/{patient}/sync-plan/",
        {"anchor_date": "9999-12-31", "cycle_days": 30, "prescriptions": [rx]},
        format="json",
    )
    assert plan.status_code == 400
    assert plan.json()["error"]["fields"] == {"anchor_date": ["A date on or before 2099-12-31."]}

    with tenant_scope(maple.organization):
        before = Patient.objects.count()
    created = api.post(
        "/api/v1/patients/",
        {
            "first_name": "Ada",
            "last_name": "Year",
            "date_of_birth": "0001-01-01",
            "phone": "608-555-0142",
        },
        format="json",
    )
    assert created.status_code == 400
    assert created.json()["error"]["fields"] == {
        "date_of_birth": ["A date on or after 1900-01-01."]
    }
    with tenant_scope(maple.organization):
        assert Patient.objects.count() == before
