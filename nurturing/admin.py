from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from core.errors import ApiError
from nurturing import emails, services
from nurturing.models import Enrollment, Message, MessageStatus, Sequence, Step, Suppression


class StepForm(forms.ModelForm):
    """The same template check as the API's, so a broken template never reaches a send."""

    class Meta:
        model = Step
        fields = [
            "position",
            "delay_minutes",
            "subject",
            "body_text",
            "body_html",
            "send_if_score_below",
            "send_unless_event",
        ]

    def clean(self):
        cleaned = super().clean()
        for name, autoescape in (("subject", False), ("body_text", False), ("body_html", True)):
            source = cleaned.get(name)
            error = emails.check_template(source, autoescape=autoescape) if source else None
            if error:
                self.add_error(name, f"Template error: {error}")
        return cleaned


class StepInline(admin.StackedInline):
    model = Step
    form = StepForm
    extra = 0
    fields = (
        ("position", "delay_minutes"),
        "subject",
        "body_text",
        "body_html",
        ("send_if_score_below", "send_unless_event"),
    )


@admin.register(Sequence)
class SequenceAdmin(admin.ModelAdmin):
    list_display = ("name", "key", "is_active", "trigger_kind", "trigger_stage", "trigger_score")
    list_filter = ("is_active", "trigger_kind")
    search_fields = ("name", "key")
    readonly_fields = ("activated_at", "created_at", "updated_at", "created_by")
    inlines = [StepInline]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.activated_at = timezone.now()
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ("lead", "sequence", "status", "last_position", "next_due_at", "enrolled_at")
    list_filter = ("status", "sequence", "trigger")
    search_fields = ("lead__email",)
    raw_id_fields = ("lead", "enrolled_by")
    # The dispatcher owns due times and positions; change them through the API or services.
    readonly_fields = ("last_position", "next_due_at", "enrolled_at", "ended_at", "trigger")


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
            services.message_review_resolve(message_id=message.pk, delivered=delivered)
        except ApiError as exc:
            messages.warning(request, f"{message}: {exc.detail}")
        else:
            done += 1
    messages.success(request, f"{done} email(s) settled.")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
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


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ("email", "reason", "created_at")
    list_filter = ("reason",)
    search_fields = ("email",)
