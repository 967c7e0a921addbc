"""Personal API tokens: the /account/tokens/ page (list, create shown once, revoke) and the
authentication that refuses expired ones."""

import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import tokens
from accounts.models import ApiToken
from audit.models import AuditEntry
from tests.factories import UserFactory
from tests.support import assert_error

pytestmark = pytest.mark.django_db
PAGE = "/account/tokens/"
PROBE = "/api/v1/users/"


def _page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_token_authenticates_and_is_kept_only_as_a_digest(marketer):
    token, key = tokens.token_create(user=marketer, name="sync")

    assert _api(key).get(PROBE).status_code == 200
    assert key.startswith("lcrm_") and len(key) == 45
    row = ApiToken.objects.get()
    assert row.key_digest != key and key not in (row.key_digest, row.prefix)
    assert row.prefix == key[:9]


def test_an_expired_token_is_refused_at_its_expiry_instant(marketer, monkeypatch):
    token, key = tokens.token_create(
        user=marketer, name="short", expires_at=timezone.now() + timedelta(hours=1)
    )
    client = _api(key)
    assert client.get(PROBE).status_code == 200

    later = token.expires_at - timedelta(microseconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert client.get(PROBE).status_code == 200  # one microsecond before: still good

    monkeypatch.setattr(timezone, "now", lambda: token.expires_at)
    assert_error(client.get(PROBE), 401, "token_expired")


def test_a_revoked_token_stops_working(marketer):
    token, key = tokens.token_create(user=marketer, name="sync")

    assert tokens.token_revoke(user=marketer, token_id=token.pk) is True

    assert_error(_api(key).get(PROBE), 401, "authentication_failed")


def test_an_inactive_users_token_is_refused(marketer):
    _token, key = tokens.token_create(user=marketer, name="sync")
    marketer.is_active = False
    marketer.save()
    assert_error(_api(key).get(PROBE), 401, "authentication_failed")


def test_drf_create_token_tokens_still_work(marketer):
    out = io.StringIO()
    call_command("drf_create_token", "marketer", stdout=out)
    key = re.search(r"Generated token (\w+)", out.getvalue()).group(1)
    assert _api(key).get(PROBE).status_code == 200


def test_token_create_refuses_a_past_expiry_and_a_blank_name(marketer):
    with pytest.raises(tokens.InvalidToken):
        tokens.token_create(user=marketer, name="x", expires_at=timezone.now())
    with pytest.raises(tokens.InvalidToken):
        tokens.token_create(user=marketer, name="  ")
    assert ApiToken.objects.count() == 0


def test_tokens_are_audited_without_their_key(marketer):
    token, key = tokens.token_create(user=marketer, name="sync")
    tokens.token_revoke(user=marketer, token_id=token.pk)

    rows = list(AuditEntry.objects.order_by("id").values_list("action", "object_label", "changes"))
    assert [r[:2] for r in rows] == [("token.create", "marketer"), ("token.revoke", "marketer")]
    assert key not in str(rows)


# --- the page -----------------------------------------------------------------------------------


def test_page_anonymous_goes_to_log_in():
    response = Client().get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_page_creates_a_token_shows_it_once_and_lists_it(rep):
    client = _page_client(rep)

    created = client.post(PAGE, {"name": "laptop", "expires_in": "30"})

    assert created.status_code == 200
    key = re.search(
        r'<output class="secret" id="new-key">(lcrm_\w+)</output>', created.content.decode()
    )
    assert key is not None
    token = ApiToken.objects.get(user=rep)
    assert token.name == "laptop"
    assert timedelta(days=29, hours=23) < token.expires_at - timezone.now() <= timedelta(days=30)
    again = client.get(PAGE).content.decode()
    assert key.group(1) not in again and "laptop" in again and token.prefix in again
    assert _api(key.group(1)).get(PROBE).status_code == 200


def test_page_refuses_a_blank_name(rep):
    response = _page_client(rep).post(PAGE, {"name": "", "expires_in": ""})
    assert response.status_code == 400
    assert ApiToken.objects.count() == 0


def test_page_revokes_own_token_and_404s_on_anothers(rep, other_rep):
    mine, _ = tokens.token_create(user=rep, name="mine")
    theirs, _ = tokens.token_create(user=other_rep, name="theirs")
    client = _page_client(rep)

    assert client.post(f"/account/tokens/{theirs.pk}/revoke/").status_code == 404
    response = client.post(f"/account/tokens/{mine.pk}/revoke/")

    assert (response.status_code, response["Location"]) == (302, PAGE)
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["theirs"]


def test_page_lists_only_the_users_own_tokens(rep, other_rep):
    tokens.token_create(user=other_rep, name="their-secret-sync")
    html = _page_client(rep).get(PAGE).content.decode()
    assert "their-secret-sync" not in html and "No tokens yet." in html


def test_page_lists_and_revokes_the_drf_create_token_token(rep):
    call_command("drf_create_token", "rep", stdout=io.StringIO())
    client = _page_client(rep)
    assert "Token from drf_create_token" in client.get(PAGE).content.decode()

    assert client.post("/account/tokens/legacy/revoke/").status_code == 302

    from rest_framework.authtoken.models import Token

    assert Token.objects.count() == 0


def test_revoke_needs_post(rep):
    token, _ = tokens.token_create(user=rep, name="x")
    assert _page_client(rep).get(f"/account/tokens/{token.pk}/revoke/").status_code == 405
    assert ApiToken.objects.count() == 1


def test_revoke_anonymous_goes_to_log_in(rep):
    token, _ = tokens.token_create(user=rep, name="x")
    response = Client().post(f"/account/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    assert ApiToken.objects.count() == 1


def test_page_query_count(rep, django_assert_max_num_queries):
    for i in range(10):
        tokens.token_create(user=rep, name=f"t{i}")
    client = _page_client(rep)
    with django_assert_max_num_queries(6):
        assert client.get(PAGE).status_code == 200


def test_users_api_still_lists_with_a_personal_token():
    admin = UserFactory(username="boss", role="admin")
    _token, key = tokens.token_create(user=admin, name="x")
    assert _api(key).get(PROBE).json()["count"] == 1
