"""Saved views of the lead list: a user's named filters and sort, private to them (another
user's view is a 404 to read, apply or delete)."""

import pytest
from django.test import Client

from leads import saved_views
from leads.models import SavedView

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_save_keeps_the_filters_and_sort_and_drops_the_rest(marketer):
    client = client_for(marketer)

    response = client.post(
        "/leads/views/",
        {"name": "  Hot   MQLs ", "query": "stage=MQL&cursor=abc&sort=-score&junk=1&q=&stage=PQL"},
    )

    view = SavedView.objects.get()
    assert (view.user, view.name, view.query) == (
        marketer,
        "Hot MQLs",
        "stage=MQL&stage=PQL&sort=-score",
    )
    assert response["Location"] == "/leads/?stage=MQL&stage=PQL&sort=-score"
    html = client.get(response["Location"]).content.decode()
    assert f'href="/leads/views/{view.pk}/">Hot MQLs</a>' in html
    assert "Saved the view “Hot MQLs”." in html


def test_saving_under_the_same_name_replaces_the_view(marketer):
    client = client_for(marketer)
    client.post("/leads/views/", {"name": "Mine", "query": "stage=MQL"})

    client.post("/leads/views/", {"name": "Mine", "query": "stage=SAL"})

    assert list(SavedView.objects.values_list("name", "query")) == [("Mine", "stage=SAL")]


@pytest.mark.parametrize("name", ["", "   ", "x" * 81])
def test_a_view_needs_a_name_of_1_to_80_characters(marketer, name):
    client = client_for(marketer)

    response = client.post("/leads/views/", {"name": name, "query": "stage=MQL"})

    assert response["Location"] == "/leads/?stage=MQL"
    assert "Give the view a name of 1 to 80 characters." in client.get("/leads/").content.decode()
    assert not SavedView.objects.exists()


def test_a_user_keeps_at_most_the_limit_of_views(marketer, monkeypatch):
    monkeypatch.setattr(saved_views, "PER_USER_MAX", 2)
    client = client_for(marketer)
    for name in ("a", "b", "c"):
        client.post("/leads/views/", {"name": name, "query": "stage=MQL"})

    assert sorted(SavedView.objects.values_list("name", flat=True)) == ["a", "b"]
    # Replacing one of them is still allowed.
    client.post("/leads/views/", {"name": "b", "query": "stage=SAL"})
    assert SavedView.objects.get(name="b").query == "stage=SAL"


def test_apply_opens_the_list_with_the_views_query(marketer):
    view = SavedView.objects.create(user=marketer, name="v", query="stage=MQL&sort=score")

    response = client_for(marketer).get(f"/leads/views/{view.pk}/")

    assert (response.status_code, response["Location"]) == (302, "/leads/?stage=MQL&sort=score")


def test_delete_removes_only_that_view(marketer):
    view = SavedView.objects.create(user=marketer, name="v", query="stage=MQL")
    other = SavedView.objects.create(user=marketer, name="w", query="stage=SAL")

    response = client_for(marketer).post(f"/leads/views/{view.pk}/delete/", {"query": "q=x"})

    assert response["Location"] == "/leads/?q=x"
    assert list(SavedView.objects.all()) == [other]


def test_another_user_cannot_see_apply_or_delete_my_view(marketer, manager):
    mine = SavedView.objects.create(user=marketer, name="Mine only", query="stage=MQL")
    client = client_for(manager)

    assert "Mine only" not in client.get("/leads/").content.decode()
    assert client.get(f"/leads/views/{mine.pk}/").status_code == 404
    assert client.post(f"/leads/views/{mine.pk}/delete/").status_code == 404
    assert SavedView.objects.filter(pk=mine.pk).exists()
    # Their own view of the same name is theirs alone.
    client.post("/leads/views/", {"name": "Mine only", "query": "stage=SAL"})
    mine.refresh_from_db()
    assert mine.query == "stage=MQL"
    assert SavedView.objects.get(user=manager).query == "stage=SAL"


def test_anonymous_is_sent_to_log_in(client, marketer):
    view = SavedView.objects.create(user=marketer, name="v", query="stage=MQL")

    for method, path in [
        ("post", "/leads/views/"),
        ("get", f"/leads/views/{view.pk}/"),
        ("post", f"/leads/views/{view.pk}/delete/"),
    ]:
        response = getattr(client, method)(path, {"name": "x"})
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert SavedView.objects.count() == 1


def test_saving_and_deleting_need_a_post(marketer):
    view = SavedView.objects.create(user=marketer, name="v", query="")
    client = client_for(marketer)

    assert client.get("/leads/views/").status_code == 405
    assert client.get(f"/leads/views/{view.pk}/delete/").status_code == 405
    assert client.post(f"/leads/views/{view.pk}/").status_code == 405
