import datetime as dt

import pytest
import time_machine
from django.utils import timezone
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from medsync.models import ApiToken, AuditEvent
from tests.factories import TEST_PASSWORD, PharmacyFactory
from tests.medsync.totp import enroll_totp, totp_now


@pytest.fixture
def api():
    return APIClient()


def _error(response):
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


@pytest.mark.django_db
def test_token_exchange_and_use(api, maple):
    device = enroll_totp(maple.pharmacist)
    response = api.post(
        "/api/v1/auth/token/",
        {"email": maple.pharmacist.email, "password": TEST_PASSWORD, "otp": totp_now(device)},
    )
    assert response.status_code == 201
    raw = response.json()["token"]
    assert raw.startswith("msy_")
    token = ApiToken.objects.get(user=maple.pharmacist)
    assert token.key_hash != raw and raw not in token.key_hash  # only the hash is kept
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    me = api.get("/api/v1/me/").json()
    assert me["user"]["email"] == maple.pharmacist.email
    assert me["organization"]["name"] == "Maple Pharmacy"
    assert me["role"] == "pharmacist"
    assert {p["name"] for p in me["pharmacies"]} == {"Maple Main St", "Maple Elm Ave"}
    assert "fills.verify" in me["permissions"]
    assert "id" in me["user"] and "pk" not in me["user"]


@pytest.mark.django_db
def test_bad_credentials_get_one_generic_error(api, maple):
    wrong = api.post("/api/v1/auth/token/", {"email": maple.owner.email, "password": "x" * 12})
    unknown = api.post("/api/v1/auth/token/", {"email": "no@one.test", "password": "x" * 12})
    assert wrong.status_code == unknown.status_code == 400
    assert _error(wrong) == _error(unknown)
    assert _error(wrong)["code"] == "invalid_credentials"
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_token_request_validation_names_the_fields(api):
    error = _error(api.post("/api/v1/auth/token/", {"email": "not-an-email"}))
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"email", "password"}


@pytest.mark.django_db
def test_a_revoked_token_stops_working(api, maple):
    raw = api.post(
        "/api/v1/auth/token/",
        {
            "email": maple.owner.email,
            "password": TEST_PASSWORD,
            "otp": totp_now(enroll_totp(maple.owner)),
        },
    ).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.delete("/api/v1/auth/token/").status_code == 204
    response = api.get("/api/v1/me/")
    assert response.status_code == 401
    assert _error(response)["code"] == "authentication_failed"
    assert ApiToken.objects.get().revoked_at is not None
    with scopes_disabled():
        assert AuditEvent.objects.filter(action="medsync.api_token.revoked").count() == 1


@pytest.mark.django_db
def test_tokens_expire(api, maple, settings):
    raw = api.post(
        "/api/v1/auth/token/",
        {
            "email": maple.owner.email,
            "password": TEST_PASSWORD,
            "otp": totp_now(enroll_totp(maple.owner)),
        },
    ).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    later = timezone.now() + dt.timedelta(days=settings.API_TOKEN_TTL_DAYS, minutes=1)
    with time_machine.travel(later):
        assert api.get("/api/v1/me/").status_code == 401


@pytest.mark.django_db
def test_a_deactivated_users_token_stops_working(api_client_for, maple):
    client = api_client_for(maple.pharmacist)
    maple.pharmacist.is_active = False
    maple.pharmacist.save()
    assert client.get("/api/v1/me/").status_code == 401


@pytest.mark.django_db
def test_unauthenticated_requests_get_401_in_the_error_shape(api, maple):
    response = api.get("/api/v1/pharmacies/")
    assert response.status_code == 401
    assert _error(response)["code"] == "not_authenticated"
    api.credentials(HTTP_AUTHORIZATION="Bearer msy_made-up")
    assert api.get("/api/v1/pharmacies/").status_code == 401


@pytest.mark.django_db
def test_pharmacies_list_and_detail_use_uuids(api_client_for, maple):
    client = api_client_for(maple.pharmacist)
    body = client.get("/api/v1/pharmacies/").json()
    assert body["count"] == 2
    first = body["results"][0]
    assert len(first["id"]) == 36
    detail = client.get(f"/api/v1/pharmacies/{first['id']}/")
    assert detail.status_code == 200 and detail.json()["name"] == first["name"]
    assert client.get(f"/api/v1/pharmacies/{maple.pharmacies[0].pk}/").status_code == 404


@pytest.mark.django_db
def test_another_orgs_pharmacy_is_a_404_in_the_api(api_client_for, maple, birch):
    client = api_client_for(birch.pharmacist)
    response = client.get(f"/api/v1/pharmacies/{maple.pharmacies[0].public_id}/")
    assert response.status_code == 404
    assert _error(response) == {"code": "not_found", "message": "Not found.", "fields": {}}
    names = [p["name"] for p in client.get("/api/v1/pharmacies/").json()["results"]]
    assert names == ["Birch Rx"]


@pytest.mark.django_db
def test_a_limited_technician_sees_only_their_location(api_client_for, maple):
    client = api_client_for(maple.technician)
    names = [p["name"] for p in client.get("/api/v1/pharmacies/").json()["results"]]
    assert names == ["Maple Main St"]
    elm = maple.pharmacies[1]
    assert client.get(f"/api/v1/pharmacies/{elm.public_id}/").status_code == 404


@pytest.mark.django_db
def test_the_organization_header_picks_the_tenant(api_client_for, floater, maple, birch):
    at_birch = api_client_for(floater, birch.organization).get("/api/v1/me/").json()
    assert at_birch["organization"]["name"] == "Birch Rx" and at_birch["role"] == "technician"
    at_maple = api_client_for(floater, maple.organization).get("/api/v1/me/").json()
    assert at_maple["organization"]["name"] == "Maple Pharmacy"
    assert {o["name"] for o in at_maple["organizations"]} == {"Maple Pharmacy", "Birch Rx"}


@pytest.mark.django_db
def test_an_organization_header_for_a_stranger_org_is_refused(api_client_for, maple, birch):
    response = api_client_for(maple.pharmacist, birch.organization).get("/api/v1/pharmacies/")
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


@pytest.mark.django_db
def test_session_auth_works_for_the_api_too(client, maple, login):
    login(maple.pharmacist)
    assert client.get("/api/v1/me/").json()["role"] == "pharmacist"


@pytest.mark.django_db
def test_the_pharmacy_list_costs_a_fixed_number_of_queries(
    api_client_for, maple, django_assert_max_num_queries
):
    client = api_client_for(maple.owner)
    PharmacyFactory.create_batch(3, organization=maple.organization)
    with django_assert_max_num_queries(6):
        small = client.get("/api/v1/pharmacies/")
    PharmacyFactory.create_batch(40, organization=maple.organization)
    with django_assert_max_num_queries(6):
        large = client.get("/api/v1/pharmacies/")
    assert small.json()["count"] == 5 and large.json()["count"] == 45


@pytest.mark.django_db
def test_pagination_caps_the_page_size(api_client_for, maple):
    PharmacyFactory.create_batch(8, organization=maple.organization)
    body = api_client_for(maple.owner).get("/api/v1/pharmacies/?page_size=3").json()
    assert len(body["results"]) == 3 and body["count"] == 10 and body["next"]


@pytest.mark.django_db
def test_openapi_schema_and_docs_are_served_without_a_cdn(api_client_for, login, maple):
    # Both need a token or a session (tests/api/test_schemathesis.py: anonymous is refused).
    schema = api_client_for(maple.pharmacist).get(
        "/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    for path in [
        "/api/v1/me/",
        "/api/v1/pharmacies/",
        "/api/v1/pharmacies/{id}/",
        "/api/v1/auth/token/",
    ]:
        assert path in document["paths"]
    assert "bearerAuth" in document["components"]["securitySchemes"]
    docs = login(maple.pharmacist).get("/api/v1/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html and "cdn.jsdelivr" not in html and "unpkg" not in html


@pytest.mark.django_db
def test_the_token_endpoint_is_rate_limited(api, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "3/min"},
    }
    from rest_framework.settings import api_settings
    from rest_framework.throttling import ScopedRateThrottle

    original_rates = ScopedRateThrottle.THROTTLE_RATES
    api_settings.reload()
    ScopedRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        codes = [
            api.post(
                "/api/v1/auth/token/", {"email": f"x{n}@y.test", "password": "p" * 12}
            ).status_code
            for n in range(5)
        ]
    finally:
        # The class keeps the dict it read at import; put that back (reloading here would
        # still read this test's 3/min, which would then throttle later tests).
        ScopedRateThrottle.THROTTLE_RATES = original_rates
    assert codes[:3] == [400, 400, 400]
    assert codes[3:] == [429, 429]
