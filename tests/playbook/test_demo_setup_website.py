"""`manage.py demo_setup` shows the website front door: a browser source, the ebook form with
its hosted page, and leads that came through it."""

import io

import pytest
from django.core.management import call_command
from django.test import Client

from events.models import Source, SourceKind
from playbook.demo_web import SOURCE_NAME
from web import spam
from web.models import Form, Submission

pytestmark = pytest.mark.django_db


def test_demo_setup_makes_the_browser_source_the_form_and_its_leads(monkeypatch):
    monkeypatch.setattr(spam.ratelimit, "hit_many", lambda checks, window: None)
    out = io.StringIO()

    call_command("demo_setup", stdout=out)

    source = Source.objects.get(name=SOURCE_NAME)
    assert (source.kind, source.is_active) == (SourceKind.BROWSER, True)
    form = Form.objects.get(slug="ebook")
    assert Client().get("/f/ebook/").status_code == 200
    submissions = Submission.objects.filter(form=form)
    assert submissions.count() == 4
    assert all(s.lead_id for s in submissions)
    assert "Website: 6 new rows (a browser source, the form /f/ebook/)." in out.getvalue()
