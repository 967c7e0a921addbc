"""Public pages of the forms: the hosted page and its submit (/f/<slug>/), the form's start
timestamp for the embed script (/f/<slug>/start/), and the double opt-in link
(/f/confirm/<token>/). No login.

The submit is exempt from CSRF: an embedded form posts from another origin, where Django's
CSRF cookie cannot be. It only ever creates top-of-funnel data (an IQL lead, or blanks filled),
and the spam checks and rate limits stand in front of it. Its JSON answer (for the script, on
`Accept: application/json`) carries `Access-Control-Allow-Origin: *` without credentials, so any
page may read it and no cookie goes with it.
"""

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.csp import CSP
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core import ratelimit
from core.errors import ApiError
from core.middleware import checks_own_text
from web import emails, rendering, selectors, services, spam, validation
from web.models import Form, Submission, SubmissionStatus

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Accept, Content-Type",
    "Access-Control-Expose-Headers": "Retry-After",
    "Access-Control-Max-Age": "86400",
}


def _cors(response: HttpResponse) -> HttpResponse:
    for name, value in CORS.items():
        response[name] = value
    return response


def _wants_json(request: HttpRequest) -> bool:
    return request.get_preferred_type(["text/html", "application/json"]) == "application/json"


def _client_ip(request: HttpRequest) -> str | None:
    # The rule ingestion's per-address limit uses: the socket's peer, or behind
    # TRUSTED_PROXY_HOPS reverse proxies the address the outermost one saw (X-Forwarded-For
    # counted from the right: what a client writes further left is never believed).
    return ratelimit.client_ip(request)


@checks_own_text  # web.validation: a field's control characters are shown on the form
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST", "OPTIONS"])
def form_page(request: HttpRequest, slug: str) -> HttpResponse:
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204))
    try:
        form = selectors.form_public_get(slug=slug)
    except Http404:
        if _wants_json(request):
            body = {"code": "not_found", "message": "No such form."}
            return _cors(JsonResponse(body, status=404))
        return render(request, "web/closed.html", status=404)
    if request.method == "GET":
        token = spam.form_token(form_id=form.pk, at=timezone.now())
        utm = {key: request.GET.get(key, "")[:200] for key in validation.UTM_KEYS}
        return _form_response(request, form, token=token, context=utm)
    return _submit(request, form)


@checks_own_text
@never_cache
@require_http_methods(["GET", "OPTIONS"])
def form_start(request: HttpRequest, slug: str) -> HttpResponse:
    """The signed "shown at" timestamp the embed script puts into its form on page load."""
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204))
    try:
        form = selectors.form_public_get(slug=slug)
    except Http404:
        return _cors(JsonResponse({"code": "not_found", "message": "No such form."}, status=404))
    token = spam.form_token(form_id=form.pk, at=timezone.now())
    body = {"token": token, "min_seconds": settings.FORMS_MIN_FILL_SECONDS}
    return _cors(JsonResponse(body))


def _visit(request: HttpRequest) -> services.Visit:
    post = request.POST
    anonymous_id = validation.context_clean(post.get(validation.ANONYMOUS_ID, ""), 1000)
    utm = {key: validation.context_clean(post.get(key, ""), 200) for key in validation.UTM_KEYS}
    return services.Visit(
        ip=_client_ip(request),
        user_agent=validation.context_clean(request.headers.get("User-Agent", ""), 300),
        referrer=validation.context_clean(post.get(validation.REFERRER, ""), 500),
        # An id longer than the column is not cut (a cut id would match nothing): dropped.
        anonymous_id=anonymous_id if len(anonymous_id) <= 255 else "",
        utm={key: value for key, value in utm.items() if value},
    )


def _submit(request: HttpRequest, form: Form) -> HttpResponse:
    post = request.POST
    answers = {key: post.get(key, "") for key in post}
    consent = post.get(validation.CONSENT, "") != ""
    token = post.get(validation.TOKEN, "")
    try:
        submission = services.submission_create(
            form=form,
            answers=answers,
            consent=consent,
            token=token,
            honeypot=post.get(validation.HONEYPOT, ""),
            visit=_visit(request),
        )
    except ApiError as exc:
        return _refused(request, form, exc, answers=answers, consent=consent, token=token)
    return _done(request, form, submission)


def thank_you_text(form: Form, submission: Submission) -> str:
    text = form.thank_you_message or "Thank you!"
    offer = form.offer_title or "what you asked for"
    if submission.status == SubmissionStatus.PENDING:
        return (
            f"{text}\n\nWe sent a link to {submission.email}: click it to confirm your address "
            f"and get {offer}."
        )
    if form.offer_url:
        return f"{text}\n\nWe are sending {offer} to {submission.email}."
    return text


def _done(request: HttpRequest, form: Form, submission: Submission) -> HttpResponse:
    message = thank_you_text(form, submission)
    if _wants_json(request):
        body = {"status": submission.status, "message": message, "redirect": form.redirect_url}
        return _cors(JsonResponse(body))
    if form.redirect_url:
        return HttpResponseRedirect(form.redirect_url)
    return render(request, "web/thanks.html", {"form": form, "message": message})


def _refused(request, form, exc: ApiError, *, answers, consent, token) -> HttpResponse:
    if _wants_json(request):
        body: dict[str, Any] = {"code": str(exc.detail.code), "message": str(exc.detail)}
        if exc.fields:
            body["fields"] = exc.fields
        response = _cors(JsonResponse(body, status=exc.status_code))
    else:
        if isinstance(exc, spam.StaleForm):
            token = spam.form_token(form_id=form.pk, at=timezone.now())
        response = _form_response(
            request,
            form,
            token=token,
            context=answers,
            values=answers,
            errors=exc.fields,
            consent=consent,
            message=str(exc.detail),
            status=exc.status_code,
        )
    if isinstance(exc, spam.RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


def _form_response(request, form: Form, *, token: str, status: int = 200, **kwargs) -> HttpResponse:
    action = reverse("web:form", args=[form.slug])
    context = rendering.form_context(form, action=action, token=token, **kwargs)
    response = render(request, "web/form.html", context, status=status)
    if form.redirect_url:
        # The browser checks a form's redirect against form-action too: allow the form's own.
        parts = urlsplit(form.redirect_url)
        policy = dict(settings.SECURE_CSP)
        policy["form-action"] = [CSP.SELF, f"{parts.scheme}://{parts.netloc}"]
        response._csp_config = policy  # type: ignore[attr-defined]
    return response


# --- Double opt-in -------------------------------------------------------------------------------


@csrf_exempt  # the signed token is the authority, as for one-click unsubscribe
@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (mail scanners open every link, and must confirm nobody); POST confirms."""
    try:
        submission_id = emails.confirm_read(token)
        submission = Submission.objects.select_related("form").get(pk=submission_id)
    except emails.LinkExpired as exc:
        return _link_invalid(request, expired=True, submission_id=exc.submission_id)
    except (emails.LinkInvalid, Submission.DoesNotExist):
        return _link_invalid(request, expired=False)
    if submission.status == SubmissionStatus.EXPIRED:
        return _link_invalid(request, expired=True, submission_id=submission.pk)
    context = {"submission": submission, "offer": submission.form.offer_title or "your download"}
    if request.method == "GET" and submission.status == SubmissionStatus.PENDING:
        return render(request, "web/confirm.html", context)
    if request.method == "POST":
        submission, outcome = services.submission_confirm(
            submission_id=submission.pk, ip=_client_ip(request)
        )
        if outcome == services.ConfirmOutcome.EXPIRED:
            return _link_invalid(request, expired=True, submission_id=submission.pk)
        context["already"] = outcome == services.ConfirmOutcome.ALREADY
    else:
        context["already"] = True
    return render(request, "web/confirmed.html", context)


def _link_invalid(request, *, expired: bool, submission_id: int | None = None) -> HttpResponse:
    form = None
    if submission_id is not None:
        form = Form.objects.filter(submissions__pk=submission_id, is_active=True).first()
    context = {
        "expired": expired,
        "days": settings.FORMS_CONFIRM_MAX_AGE_DAYS,
        "form_url": reverse("web:form", args=[form.slug]) if form else "",
    }
    return render(request, "web/link_invalid.html", context, status=400)
