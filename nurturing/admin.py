"""Nurturing in the Django admin. Sequences and their steps are saved through
nurturing.services, so the admin runs the API's checks: who may change them, the triggers, the
templates, the clashes (core/admin.py turns a refusal into the form's error)."""

from contextlib import contextmanager

from django.contrib import admin, messages

from accounts.models import User
from core.admin import ServiceModelAdmin, adopt, form_changes, form_values
from core.errors import ApiError, Conflict
from nurturing import services
from nurturing.models import Enrollment, Message, MessageStatus, Sequence, Step, Suppression

STEP_FIELDS = (
    "position",
    "delay_minutes",
    "subject",
    "body_text",
    "body_html",
    "send_if_score_below",
    "send_unless_event",
)


class StepInline(admin.StackedInline):
    model = Step
    extra = 0
    fields = (
        ("position", "delay_minutes"),
        "subject",
        "body_text",
        "body_html",
        ("send_if_score_below", "send_unless_event"),
    )


@admin.register(Sequence)
class SequenceAdmin(ServiceModelAdmin):
    list_display = ("name", "key", "is_active", "trigger_kind", "trigger_stage", "trigger_score")
    list_filter = ("is_active", "trigger_kind")
    search_fields = ("name", "key")
    readonly_fields = ("activated_at", "created_at", "updated_at", "created_by")
    inlines = [StepInline]

    def save_model(self, request, obj, form, change):
        if change:
            saved = services.sequence_update(sequence=obj, actor=request.user, **form_changes(form))
        else:
            saved = services.sequence_create(actor=request.user, **form_values(form))
        adopt(obj, saved)

    def save_formset(self, request, form, formset, change):
        """Deletions first (they free positions), then edits and new steps."""
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for step_form in formset.deleted_forms:
            if step_form.instance.pk is not None:
                with _naming_the_step(step_form):
                    services.step_delete(step=step_form.instance, actor=request.user)
                formset.deleted_objects.append(step_form.instance)
        for step_form in formset.forms:
            if step_form not in formset.deleted_forms and step_form.has_changed():
                with _naming_the_step(step_form):
                    _step_save(step_form, formset, sequence=form.instance, actor=request.user)

    def delete_model(self, request, obj):
        services.sequence_delete(sequence=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for sequence in queryset:
            services.sequence_delete(sequence=sequence, actor=request.user)


def _step_save(step_form, formset, *, sequence: Sequence, actor: User) -> None:
    values = {name: step_form.cleaned_data[name] for name in STEP_FIELDS}
    if step_form.instance.pk is None:
        formset.new_objects.append(services.step_create(sequence=sequence, actor=actor, **values))
        return
    changed = [name for name in step_form.changed_data if name in STEP_FIELDS]
    changes = {name: values[name] for name in changed}
    step = services.step_update(step=step_form.instance, actor=actor, **changes)
    formset.changed_objects.append((step, changed))


@contextmanager
def _naming_the_step(step_form):
    """A step's refusal, with the step's position in front: the page shows it above the whole
    form, where "Template error: ..." alone would not say which step."""
    try:
        yield
    except ApiError as exc:
        position = step_form.cleaned_data.get("position") or step_form.instance.position
        raise type(exc)(f"Step {position}: {exc.detail}", code=exc.detail.code) from exc


@admin.register(Enrollment)
class EnrollmentAdmin(ServiceModelAdmin):
    """Enroll by hand here (nurturing.services.enrollment_create); stop with the action. The
    dispatcher owns everything else about an enrollment, so it is read-only once made."""

    list_display = ("lead", "sequence", "status", "last_position", "next_due_at", "enrolled_at")
    list_filter = ("status", "sequence", "trigger")
    search_fields = ("lead__email",)
    raw_id_fields = ("lead",)
    actions = ["stop"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("lead", "sequence")
        return super().get_fields(request, obj)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # its emails keep pointing at it; stop it instead

    def save_model(self, request, obj, form, change):
        enrollment = services.enrollment_create(
            lead_id=obj.lead_id, sequence_id=obj.sequence_id, actor=request.user
        )
        adopt(obj, enrollment)

    @admin.action(description="Stop the selected enrollments")
    def stop(self, request, queryset):
        stopped = 0
        for enrollment in queryset.filter(status="active"):
            services.enrollment_exit(enrollment=enrollment, actor=request.user)
            stopped += 1
        self.message_user(request, f"{stopped} enrollment(s) stopped.")


@admin.action(description="Review: the email WAS delivered (mark sent)")
def review_delivered(modeladmin, request, queryset):
    _resolve(request, queryset, delivered=True)


@admin.action(description="Review: the email was NOT delivered (send it again)")
def review_not_delivered(modeladmin, request, queryset):
    _resolve(request, queryset, delivered=False)


def _resolve(request, queryset, *, delivered: bool) -> None:
    done = 0
    for message in queryset.filter(status=MessageStatus.UNKNOWN):
        try:
            services.message_review_resolve(
                message_id=message.pk, delivered=delivered, actor=request.user
            )
        except Conflict as exc:  # settled meanwhile; a refusal (403) stops the whole action
            messages.warning(request, f"{message}: {exc.detail}")
        else:
            done += 1
    messages.success(request, f"{done} email(s) settled.")


@admin.register(Message)
class MessageAdmin(ServiceModelAdmin):
    """Status 'Needs review' lists the emails whose worker died while the server answered."""

    list_display = ("to_email", "subject", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status",)
    search_fields = ("to_email", "subject")
    raw_id_fields = ("enrollment", "step", "lead")
    actions = [review_delivered, review_not_delivered]

    def has_add_permission(self, request):
        return False  # emails come from the dispatcher, once per (enrollment, step)

    def has_change_permission(self, request, obj=None):
        return False  # the send state machine is the workers'; review uses the actions

    def has_delete_permission(self, request, obj=None):
        return False  # the row is the send claim: without it the email could go out again


@admin.register(Suppression)
class SuppressionAdmin(ServiceModelAdmin):
    """Addresses are added here through nurturing.services.suppression_add; never changed or
    removed, since each one records a bounce or someone's wish not to be mailed."""

    list_display = ("email", "reason", "created_at")
    list_filter = ("reason",)
    search_fields = ("email",)
    fields = ("email", "reason", "detail")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.suppression_add(**form_values(form))
        adopt(obj, Suppression.objects.get(email__iexact=obj.email))
