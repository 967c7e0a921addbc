"""/api/v1/sources/: sources and their write keys, for marketers and admins."""

import hashlib
import json

import pytest

from events import services
from events.models import Event, Source
from tests.events.conftest import basic
from tests.support import assert_error

pytestmark = pytest.mark.django_db

LIST = "/api/v1/sources/"
ORIGIN = "https://www.example.com"


def detail(source) -> str:
    return f"/api/v1/sources/{source.pk}/"


def rotate(source) -> str:
    return f"/api/v1/sources/{source.pk}/rotate/"


def track(client, key, message_id="m1"):
    return client.post(
        "/v1/track",
        data=json.dumps({"userId": "u", "event": "E", "messageId": message_id}),
        content_type="application/json",
        headers={"Authorization": basic(key)},
    )


@pytest.fixture
def server():
    return services.source_create(name="product")[0]


@pytest.fixture
def site():
    return services.source_create(name="site", kind="browser", allowed_origins=[ORIGIN])[0]


@pytest.fixture
def internal():
    return services.source_internal("email")


def snapshot() -> list[dict]:
    return list(Source.objects.order_by("pk").values())


# --- Who may ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [("get", "list"), ("post", "list"), ("get", "detail"), ("patch", "detail"), ("post", "rotate")],
)
def test_anonymous_gets_401_and_nothing_changes(anonymous, server, method, path):
    url = {"list": LIST, "detail": detail(server), "rotate": rotate(server)}[path]
    before = snapshot()

    response = getattr(anonymous, method)(url, {"name": "x"}, format="json")

    assert_error(response, 401, "not_authenticated")
    assert snapshot() == before


@pytest.mark.parametrize("who", ["rep_client", "manager_client"])
@pytest.mark.parametrize(
    "method, path",
    [("get", "list"), ("post", "list"), ("get", "detail"), ("patch", "detail"), ("post", "rotate")],
)
def test_reps_and_managers_get_403_and_nothing_changes(request, who, server, method, path):
    client = request.getfixturevalue(who)
    url = {"list": LIST, "detail": detail(server), "rotate": rotate(server)}[path]
    before = snapshot()

    response = getattr(client, method)(url, {"name": "x", "kind": "nope"}, format="json")

    assert_error(response, 403, "permission_denied")
    assert snapshot() == before


# --- List and read ------------------------------------------------------------------------------


def test_list_shows_write_key_sources_by_name_never_internal_ones_nor_keys(
    marketer_client, server, site, internal
):
    response = marketer_client.get(LIST)

    assert response.status_code == 200
    body = response.json()
    assert [s["name"] for s in body["results"]] == ["product", "site"]
    assert body["results"][1] == {
        "id": site.pk,
        "name": "site",
        "kind": "browser",
        "allowed_origins": [ORIGIN],
        "is_active": True,
        "rate_limit_per_minute": None,
        "consent_policy": "needed",
        "write_key_prefix": site.write_key_prefix,
        "created_at": body["results"][1]["created_at"],
        "disabled_at": None,
    }
    assert "write_key" not in json.dumps(body).replace("write_key_prefix", "")


def test_list_takes_the_same_queries_for_many_sources(
    admin_client_api, django_assert_max_num_queries
):
    for n in range(60):
        services.source_create(name=f"source {n:02d}")

    with django_assert_max_num_queries(2):  # the count and the page
        response = admin_client_api.get(LIST)

    assert (response.json()["count"], len(response.json()["results"])) == (60, 50)


def test_detail_of_an_internal_or_unknown_source_is_404(marketer_client, internal):
    assert_error(marketer_client.get(detail(internal)), 404, "not_found")
    assert_error(marketer_client.get("/api/v1/sources/987654/"), 404, "not_found")


def test_detail_never_shows_the_key(admin_client_api, site):
    body = admin_client_api.get(detail(site)).json()

    assert (body["name"], body["kind"], "write_key" in body) == ("site", "browser", False)


# --- Create ---------------------------------------------------------------------------------------


def test_create_a_server_source_shows_its_key_once_and_the_key_works(client, marketer_client):
    response = marketer_client.post(LIST, {"name": " product "}, format="json")

    assert response.status_code == 201
    body = response.json()
    source = Source.objects.get()
    key = body["write_key"]
    assert (body["name"], body["kind"], body["consent_policy"], body["allowed_origins"]) == (
        "product",
        "server",
        "collected",
        [],
    )
    assert source.write_key_digest == hashlib.sha256(key.encode()).hexdigest()
    assert (body["write_key_prefix"], key.startswith("wk_")) == (key[:12], True)
    assert track(client, key).status_code == 200
    assert "write_key" not in marketer_client.get(detail(source)).json()


def test_create_a_browser_source_normalises_its_origins_and_needs_consent(admin_client_api):
    response = admin_client_api.post(
        LIST,
        {
            "name": "site",
            "kind": "browser",
            "allowed_origins": [
                "HTTPS://WWW.Example.com:443/",
                "http://localhost:3000",
                "https://www.example.com",
            ],
            "rate_limit_per_minute": 600,
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["allowed_origins"] == ["https://www.example.com", "http://localhost:3000"]
    assert (body["kind"], body["consent_policy"], body["rate_limit_per_minute"]) == (
        "browser",
        "needed",
        600,
    )
    assert Source.objects.get().allowed_origins == body["allowed_origins"]


def test_create_with_a_chosen_consent_policy_and_disabled(client, marketer_client):
    response = marketer_client.post(
        LIST,
        {"name": "import", "consent_policy": "needed", "is_active": False},
        format="json",
    )

    body = response.json()
    assert (body["consent_policy"], body["is_active"], body["disabled_at"] is not None) == (
        "needed",
        False,
        True,
    )
    assert track(client, body["write_key"]).status_code == 401


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"name": "site", "kind": "browser"}, "allowed_origins"),
        ({"name": "site", "kind": "browser", "allowed_origins": []}, "allowed_origins"),
        (
            {"name": "site", "kind": "browser", "allowed_origins": ["https://x.com/a"]},
            "allowed_origins",
        ),
        (
            {"name": "site", "kind": "browser", "allowed_origins": ["ftp://x.com"]},
            "allowed_origins",
        ),
        (
            {"name": "site", "kind": "browser", "allowed_origins": ["https://*.x.com"]},
            "allowed_origins",
        ),
        ({"name": "site", "kind": "browser", "allowed_origins": ["x.com"]}, "allowed_origins"),
        ({"name": "product", "allowed_origins": [ORIGIN]}, "allowed_origins"),
        ({"name": "site", "kind": "public"}, "kind"),
        ({"name": "   "}, "name"),
        ({"name": "n" * 101}, "name"),
        ({}, "name"),
        ({"name": "x", "rate_limit_per_minute": 0}, "rate_limit_per_minute"),
        ({"name": "x", "rate_limit_per_minute": 1_000_001}, "rate_limit_per_minute"),
        ({"name": "x", "consent_policy": "maybe"}, "consent_policy"),
    ],
)
def test_invalid_create_is_400_on_its_field_and_creates_nothing(marketer_client, payload, field):
    response = marketer_client.post(LIST, payload, format="json")

    assert_error(response, 400, "invalid", {field})
    assert not Source.objects.exists()


def test_create_boundaries_are_exact(marketer_client):
    def create(**payload):
        return marketer_client.post(LIST, payload, format="json")

    origins = [f"https://s{n}.example.com" for n in range(51)]

    assert create(name="n" * 100, rate_limit_per_minute=1).status_code == 201
    assert create(name="max", rate_limit_per_minute=1_000_000).status_code == 201
    assert create(name="b50", kind="browser", allowed_origins=origins[:50]).status_code == 201
    assert_error(
        create(name="b51", kind="browser", allowed_origins=origins),
        400,
        "invalid",
        {"allowed_origins"},
    )
    assert set(Source.objects.values_list("name", flat=True)) == {"n" * 100, "max", "b50"}


def test_a_taken_name_is_409_and_nothing_changes(marketer_client, server, internal):
    before = snapshot()

    for name in ("product", "email"):
        response = marketer_client.post(LIST, {"name": name}, format="json")
        assert_error(response, 409, "duplicate_name", {"name"})

    assert snapshot() == before


# --- Change ---------------------------------------------------------------------------------------


def test_patch_changes_the_fields_sent(marketer_client, site):
    response = marketer_client.patch(
        detail(site),
        {
            "name": "marketing site",
            "allowed_origins": ["https://Shop.example.com", ORIGIN],
            "rate_limit_per_minute": None,
            "consent_policy": "collected",
            "kind": "browser",  # sent back unchanged: fine
        },
        format="json",
    )

    assert response.status_code == 200
    site.refresh_from_db()
    assert (site.name, site.allowed_origins, site.consent_policy, site.kind) == (
        "marketing site",
        ["https://shop.example.com", ORIGIN],
        "collected",
        "browser",
    )
    assert response.json()["name"] == "marketing site"


def test_patch_is_active_stamps_and_clears_disabled_at_and_the_key_follows(
    client, admin_client_api
):
    source, key = services.source_create(name="product")

    off = admin_client_api.patch(detail(source), {"is_active": False}, format="json").json()
    refused = track(client, key, "m1")
    on = admin_client_api.patch(detail(source), {"is_active": True}, format="json").json()
    accepted = track(client, key, "m2")

    assert (off["is_active"], off["disabled_at"] is not None) == (False, True)
    assert (on["is_active"], on["disabled_at"]) == (True, None)
    assert (refused.status_code, accepted.status_code) == (401, 200)
    assert list(Event.objects.values_list("message_id", flat=True)) == ["m2"]


@pytest.mark.parametrize(
    "fixture, payload, field",
    [
        ("site", {"kind": "server"}, "kind"),
        ("server", {"kind": "browser", "allowed_origins": [ORIGIN]}, "kind"),
        ("site", {"allowed_origins": []}, "allowed_origins"),
        ("site", {"allowed_origins": ["https://x.com/path"]}, "allowed_origins"),
        ("server", {"allowed_origins": [ORIGIN]}, "allowed_origins"),
        ("site", {"name": ""}, "name"),
        ("site", {"rate_limit_per_minute": 0}, "rate_limit_per_minute"),
    ],
)
def test_invalid_patch_is_400_and_changes_nothing(
    request, marketer_client, fixture, payload, field
):
    source = request.getfixturevalue(fixture)
    before = snapshot()

    response = marketer_client.patch(detail(source), payload, format="json")

    assert_error(response, 400, "invalid", {field})
    assert snapshot() == before


def test_patch_to_a_taken_name_is_409(marketer_client, server, site):
    before = snapshot()

    assert_error(
        marketer_client.patch(detail(site), {"name": "product"}, format="json"),
        409,
        "duplicate_name",
        {"name"},
    )
    assert snapshot() == before


def test_internal_sources_cannot_be_changed_or_rotated(admin_client_api, internal):
    before = snapshot()

    assert_error(
        admin_client_api.patch(detail(internal), {"name": "x"}, format="json"), 404, "not_found"
    )
    assert_error(admin_client_api.post(rotate(internal)), 404, "not_found")
    assert snapshot() == before


# --- Rotate ---------------------------------------------------------------------------------------


def test_rotate_shows_the_new_key_once_voids_the_old_and_enables(client, marketer_client):
    source, old = services.source_create(name="product")
    services.source_set_active(source=source, active=False)

    response = marketer_client.post(rotate(source))

    assert response.status_code == 200
    body = response.json()
    new = body["write_key"]
    assert (new != old, body["is_active"], body["disabled_at"]) == (True, True, None)
    assert body["write_key_prefix"] == new[:12]
    assert (track(client, old, "m1").status_code, track(client, new, "m2").status_code) == (
        401,
        200,
    )


def test_rotate_keeps_the_browser_source_as_it_was(marketer_client, site):
    before = {k: v for k, v in snapshot()[0].items() if not k.startswith("write_key")}

    marketer_client.post(rotate(site))

    after = {k: v for k, v in snapshot()[0].items() if not k.startswith("write_key")}
    assert after == before
