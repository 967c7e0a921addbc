"""Forms are marketing's: web.services.form_create / form_update / form_delete."""

import pytest

from core.errors import ApiError, Conflict, Forbidden
from tests.web.conftest import make_form, submit
from web import services
from web.models import Form

pytestmark = pytest.mark.django_db


def test_a_marketer_creates_a_form_with_its_fields_normalised(marketer):
    form = make_form(marketer, fields=[{"name": "first_name", "label": "First name"}])

    form.refresh_from_db()
    assert form.fields == [
        {"name": "email", "label": "Email", "required": True, "kind": "email"},
        {"name": "first_name", "label": "First name", "required": False, "kind": "text"},
    ]
    assert (form.created_by, form.is_active, form.source_channel) == (marketer, True, "lead_magnet")


def test_an_admin_may_too(admin_user):
    assert make_form(admin_user).pk


@pytest.mark.parametrize("who", ["rep", "manager", "system"])
def test_reps_managers_and_the_system_may_not_manage_forms(who, request, marketer):
    actor = None if who == "system" else request.getfixturevalue(who)
    form = make_form(marketer)

    with pytest.raises(Forbidden):
        make_form(actor, slug="other")
    with pytest.raises(Forbidden):
        services.form_update(form=form, actor=actor, title="Changed")
    with pytest.raises(Forbidden):
        services.form_delete(form=form, actor=actor)

    assert list(Form.objects.values_list("slug", "title")) == [("ebook", form.title)]


@pytest.mark.parametrize(
    ("values", "fields"),
    [
        ({"slug": "Ebook"}, {"slug"}),
        ({"slug": "e_book"}, {"slug"}),
        ({"slug": "-ebook"}, {"slug"}),
        ({"slug": "a" * 81}, {"slug"}),
        ({"slug": "confirm"}, {"slug"}),
        ({"offer_url": "javascript:alert(1)"}, {"offer_url"}),
        ({"offer_url": "ftp://files.example.com/x"}, {"offer_url"}),
        ({"redirect_url": "//evil.example/"}, {"redirect_url"}),
        ({"consent_text": "  "}, {"consent_text"}),
        ({"name": ""}, {"name"}),
        ({"title": ""}, {"title"}),
        ({"source_channel": "carrier_pigeon"}, {"source_channel"}),
        ({"fields": [{"name": "x"}]}, {"fields"}),
    ],
)
def test_an_invalid_form_is_refused_per_field(marketer, values, fields):
    with pytest.raises(ApiError) as refused:
        make_form(marketer, **values)

    assert (refused.value.detail.code, set(refused.value.fields)) == ("invalid", fields)
    assert not Form.objects.exists()


def test_the_longest_slug_is_80(marketer):
    assert make_form(marketer, slug="a" * 80).slug == "a" * 80


def test_a_slug_is_one_forms_only(marketer):
    form = make_form(marketer)
    other = make_form(marketer, slug="checklist")

    with pytest.raises(Conflict) as refused:
        make_form(marketer)
    assert refused.value.detail.code == "duplicate_slug"
    with pytest.raises(Conflict):
        services.form_update(form=other, actor=marketer, slug="ebook")

    assert sorted(Form.objects.values_list("pk", "slug")) == [
        (form.pk, "ebook"),
        (other.pk, "checklist"),
    ]


def test_an_update_changes_only_what_it_is_given(marketer):
    form = make_form(marketer)

    services.form_update(form=form, actor=marketer, double_opt_in=True, title="  New title ")

    form.refresh_from_db()
    assert (form.double_opt_in, form.title, form.offer_title) == (
        True,
        "New title",
        "the lead-scoring ebook",
    )


def test_a_refused_update_changes_nothing(marketer):
    form = make_form(marketer)

    with pytest.raises(ApiError):
        services.form_update(form=form, actor=marketer, title="New", offer_url="mailto:x@y")

    form.refresh_from_db()
    assert (form.title, form.offer_url) == (
        "Get the lead-scoring ebook",
        "https://example.com/ebook.pdf",
    )


def test_a_form_nobody_sent_is_deleted(marketer):
    form = make_form(marketer)

    services.form_delete(form=form, actor=marketer)

    assert not Form.objects.exists()


def test_a_form_with_submissions_is_switched_off_not_deleted(marketer):
    form = make_form(marketer)
    submit(form)

    with pytest.raises(Conflict) as refused:
        services.form_delete(form=form, actor=marketer)

    assert refused.value.detail.code == "form_has_submissions"
    assert Form.objects.filter(pk=form.pk).exists()
