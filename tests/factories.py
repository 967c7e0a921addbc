import factory
from django.contrib.auth.models import Permission
from django.utils import timezone

from accounts.models import Role, User
from leads.models import Lead, Stage, StageChange


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = Role.MARKETER
    password = factory.django.Password("pw-for-tests")


class StaffFactory(UserFactory):
    """A user who may open the admin, with the model permissions in `perms` ("app.codename").

    Django's permissions only open the admin's pages: what the user may change is still the
    services' decision (a rep is refused whatever their permissions).
    """

    is_staff = True

    class Meta:
        skip_postgeneration_save = True

    @factory.post_generation
    def perms(user, create, extracted, **kwargs):
        for name in extracted or ():
            app_label, codename = name.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


class LeadFactory(factory.django.DjangoModelFactory):
    """A lead with its first history row, as leads.services.lead_create would make it."""

    class Meta:
        model = Lead
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"lead{n}@example.com")
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = "Lead"
    company_name = "Example Inc"
    stage = Stage.IQL
    stage_entered_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def history(lead, create, extracted, **kwargs):
        if create:
            StageChange.objects.create(
                lead=lead,
                from_stage="",
                to_stage=lead.stage,
                changed_at=lead.stage_entered_at,
                reason="created",
            )


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "events.Source"
        django_get_or_create = ("name",)

    name = "tests"
    write_key_digest = factory.Sequence(lambda n: f"{n:064d}")
    write_key_prefix = "test"


class EventFactory(factory.django.DjangoModelFactory):
    """An event as ingestion stores it: a `track` by default, linked to a lead, not yet scored."""

    class Meta:
        model = "events.Event"
        skip_postgeneration_save = True  # the `pending` hook writes its own row

    source = factory.SubFactory(SourceFactory)
    message_id = factory.Sequence(lambda n: f"msg-{n}")
    type = "track"
    name = "Email Opened"
    lead = factory.SubFactory(LeadFactory)
    user_id = ""
    anonymous_id = ""
    properties = factory.LazyFunction(dict)
    traits = factory.LazyFunction(dict)
    context = factory.LazyFunction(dict)
    occurred_at = factory.LazyFunction(timezone.now)
    received_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def pending(obj, create, extracted, **kwargs):
        """In scoring's queue when linked, as ingestion leaves it (`pending=False`: scored)."""
        if create and obj.lead_id and extracted is not False:
            from events.models import PendingEvent

            PendingEvent.objects.get_or_create(event=obj)


def _handoff_deadline(start, minutes_field: str):
    """`minutes_field` of the hand-off settings after `start`, in their business time."""
    from handoff import clock
    from handoff.selectors import handoff_settings

    row = handoff_settings()
    return clock.deadline(start, getattr(row, minutes_field), clock.hours_parse(row.business_hours))


class AssignmentFactory(factory.django.DjangoModelFactory):
    """A lead handed to a rep as routing's `assignment_open` leaves it: PENDING, the lead (MQL by
    default) owned by the rep while the assignment is open, the accept and reassign deadlines
    from handoff.clock with the settings' business hours. Tests set the clocks they test;
    `owned=False` leaves the lead's owner alone."""

    class Meta:
        model = "handoff.Assignment"
        skip_postgeneration_save = True

    lead = factory.SubFactory(LeadFactory, stage=Stage.MQL)
    rep = factory.SubFactory(UserFactory, role=Role.REP)
    assigned_at = factory.LazyFunction(timezone.now)
    accept_due_at = factory.LazyAttribute(
        lambda a: _handoff_deadline(a.assigned_at, "accept_within_minutes")
    )
    reassign_due_at = factory.LazyAttribute(
        lambda a: _handoff_deadline(a.accept_due_at, "reassign_after_minutes")
    )

    @factory.post_generation
    def owned(assignment, create, extracted, **kwargs):
        """The rep owns the lead while the assignment is open (`owned=False`: leave it)."""
        if create and extracted is not False and assignment.status in ("pending", "accepted"):
            Lead.objects.filter(pk=assignment.lead_id).update(owner=assignment.rep)
            assignment.lead.owner = assignment.rep
