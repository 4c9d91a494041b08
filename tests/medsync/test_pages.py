import pytest


@pytest.mark.django_db
def test_pharmacy_list_shows_only_the_members_own_pharmacies(client, maple, birch, login):
    login(maple.pharmacist)
    page = client.get("/pharmacies/").content.decode()
    assert "Maple Main St" in page and "Maple Elm Ave" in page
    assert "Birch Rx" not in page


@pytest.mark.django_db
def test_another_orgs_pharmacy_page_is_a_404(client, maple, birch, login):
    login(birch.pharmacist)
    maple_pharmacy = maple.pharmacies[0]
    response = client.get(f"/pharmacies/{maple_pharmacy.public_id}/")
    assert response.status_code == 404
    assert maple_pharmacy.name not in response.content.decode()
    own = client.get(f"/pharmacies/{birch.pharmacies[0].public_id}/")
    assert own.status_code == 200


@pytest.mark.django_db
def test_a_technician_limited_to_one_location_cannot_open_the_other(client, maple, login):
    login(maple.technician)
    main_st, elm_ave = maple.pharmacies
    assert client.get(f"/pharmacies/{main_st.public_id}/").status_code == 200
    assert client.get(f"/pharmacies/{elm_ave.public_id}/").status_code == 404
    assert "Maple Elm Ave" not in client.get("/pharmacies/").content.decode()


@pytest.mark.django_db
def test_pages_need_a_login(client, maple):
    for url in ["/dashboard/", "/fill-queue/", "/pharmacies/", "/team/", "/audit/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.django_db
def test_fill_queue_empty_state_says_what_to_do(client, maple, login):
    login(maple.technician)
    page = client.get("/fill-queue/").content.decode()
    assert "Nothing to fill today" in page
    assert "three days before each patient's anchor date" in page


@pytest.mark.django_db
def test_dashboard_flags_a_pharmacy_missing_its_identifiers(client, maple, login):
    pharmacy = maple.pharmacies[1]
    pharmacy.npi = ""
    pharmacy.save()
    login(maple.pharmacist)
    page = client.get("/dashboard/").content.decode()
    assert "Finish setting up" in page and "still needs: NPI" in page


@pytest.mark.django_db
def test_pages_send_a_strict_content_security_policy(client, maple, login):
    login(maple.pharmacist)
    response = client.get("/dashboard/")
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Request-ID"]


@pytest.mark.django_db
def test_the_base_layout_loads_assets_from_our_own_origin(client, maple, login):
    login(maple.pharmacist)
    page = client.get("/dashboard/").content.decode()
    assert "/static/vendor/pico/pico.min.css" in page
    assert "/static/django_htmx/htmx" in page
    assert "https://" not in page  # no CDN


@pytest.mark.django_db
def test_audit_log_page_lists_and_filters_the_orgs_events(client, maple, birch, login):
    from medsync.services import audit_record
    from medsync.tenancy import tenant_scope

    with tenant_scope(birch.organization):
        audit_record(action="birch.secret.viewed")
    with tenant_scope(maple.organization):
        for n in range(30):
            audit_record(action="maple.thing.viewed", object_id=f"obj-{n}")
    login(maple.owner)
    page = client.get("/audit/?action=maple.thing").content.decode()
    assert "maple.thing.viewed" in page
    assert "birch.secret.viewed" not in page
    assert "Page 1 of 2" in page
    empty = client.get("/audit/?action=nothing.like.this").content.decode()
    assert "No events" in empty


@pytest.mark.django_db
def test_team_page_lists_only_this_orgs_members(client, maple, birch, login):
    login(maple.owner)
    page = client.get("/team/").content.decode()
    assert "tech@maple.test" in page and "pharmacist@birch.test" not in page


@pytest.mark.django_db
def test_a_page_404_is_html_and_an_api_404_is_the_error_shape(client):
    assert "text/html" in client.get("/no-such-page/")["Content-Type"]
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "Not found.", "fields": {}}
    }
