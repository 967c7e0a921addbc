"""Forms in the Django admin: saved and deleted through web.services; submissions read-only."""

import json

import pytest
from django.contrib.messages import get_messages
from django.utils.html import escape

from accounts.models import Role, User
from tests.factories import StaffFactory
from tests.web.conftest import CONSENT, FIELDS, make_form, submit
from web.models import Form

pytestmark = pytest.mark.django_db

ADD = "/admin/web/form/add/"
PERMS = [f"web.{verb}_form" for verb in ("view", "add", "change", "delete")]


@pytest.fixture
def root_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-for-tests"))
    return client


def new_form(**values) -> dict:
    return {
        "name": "Checklist",
        "slug": "checklist",
        "is_active": "on",
        "title": "The checklist",
        "intro": "",
        "fields": json.dumps(FIELDS),
        "consent_text": CONSENT,
        "offer_title": "the checklist",
        "offer_url": "https://example.com/checklist.pdf",
        "double_opt_in": "on",
        "thank_you_message": "",
        "redirect_url": "",
        "sequence": "",
        "source_channel": "lead_magnet",
        **values,
    }


def test_a_form_added_in_the_admin_goes_through_the_service(root_client):
    response = root_client.post(ADD, new_form(fields=json.dumps([{"name": "title", "label": "T"}])))

    assert response.status_code == 302, response.content.decode()[:2000]
    form = Form.objects.get()
    assert form.created_by.username == "root"
    # the service normalised the fields: email first
    assert [f["name"] for f in form.fields] == ["email", "title"]


def test_a_refused_form_shows_the_services_words(root_client, marketer):
    make_form(marketer, slug="checklist")

    taken = root_client.post(ADD, new_form())
    bad = root_client.post(ADD, new_form(slug="other", fields=json.dumps([{"name": "Bad"}])))

    assert taken.status_code == 200
    assert "Another form has this slug." in taken.content.decode()
    assert bad.status_code == 200
    assert escape("fields[0].name: lowercase letters, digits and _ (at most 50).") in (
        bad.content.decode()
    )
    assert Form.objects.count() == 1


def test_the_change_page_shows_the_hosted_page_and_the_snippet(root_client, marketer, settings):
    settings.SITE_URL = "https://crm.example.com"
    form = make_form(marketer)

    html = root_client.get(f"/admin/web/form/{form.pk}/change/").content.decode()

    assert '<a href="https://crm.example.com/f/ebook/">https://crm.example.com/f/ebook/</a>' in html
    assert "<textarea readonly" in html
    assert escape('action="https://crm.example.com/f/ebook/"') in html


def test_a_rep_with_every_admin_permission_is_still_refused(client, marketer):
    rep = StaffFactory(username="staff-rep", role=Role.REP, perms=PERMS)
    client.force_login(rep)
    form = make_form(marketer)

    added = client.post(ADD, new_form())
    changed = client.post(f"/admin/web/form/{form.pk}/change/", new_form(slug="ebook"))

    assert "Only marketers and admins may manage forms." in added.content.decode()
    assert "Only marketers and admins may manage forms." in changed.content.decode()
    assert list(Form.objects.values_list("slug", "name")) == [("ebook", "Ebook")]


def test_deleting_a_form_with_submissions_is_refused(root_client, marketer):
    form = make_form(marketer)
    submit(form)

    response = root_client.post(f"/admin/web/form/{form.pk}/delete/", {"post": "yes"})

    # The admin sees the protected submissions itself, before the service would refuse.
    assert response.status_code == 200
    assert "<title>Cannot delete form | Django site admin</title>" in (response.content.decode())
    assert Form.objects.filter(pk=form.pk).exists()


def test_a_bulk_delete_goes_through_the_service(root_client, marketer):
    used = make_form(marketer)
    unused = make_form(marketer, slug="unused")
    submit(used)

    response = root_client.post(
        "/admin/web/form/",
        {"action": "delete_selected", "_selected_action": [unused.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert list(Form.objects.values_list("slug", flat=True)) == ["ebook"]
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Successfully deleted 1 form."]


def test_submissions_are_read_only(root_client, marketer):
    submission = submit(make_form(marketer))

    listed = root_client.get("/admin/web/submission/")
    shown = root_client.get(f"/admin/web/submission/{submission.pk}/change/")

    assert "ada@example.com" in listed.content.decode()
    assert shown.status_code == 200
    assert root_client.get("/admin/web/submission/add/").status_code == 403
    assert 'name="_save"' not in shown.content.decode()
