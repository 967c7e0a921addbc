"""Building a nurture email: personalisation, signed links, the open pixel, and the
unsubscribe headers (RFC 2369 List-Unsubscribe with RFC 8058 one-click POST).

Subjects and bodies are Django templates written by marketers. They are rendered by a
standalone engine (no loaders, no extra tag libraries) over a context of plain strings only, so
a template can reach nothing but the lead's own display fields.
"""

import email.policy
import html
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template import Context, Engine, TemplateDoesNotExist, TemplateSyntaxError
from django.urls import reverse

from leads.models import Lead
from nurturing import template_policy

SALT_UNSUBSCRIBE = "nurturing.unsubscribe"
SALT_OPEN = "nurturing.open"
SALT_CLICK = "nurturing.click"

_ENGINE = Engine(loaders=[], libraries={})
_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)

# The sample a template is checked against when saved, so that errors show up in the editor
# and not at send time.
SAMPLE_CONTEXT = {
    "first_name": "Alex",
    "last_name": "Example",
    "full_name": "Alex Example",
    "company": "Example Inc",
    "title": "Head of Marketing",
    "owner_name": "Sam Seller",
    "email": "alex@example.com",
}


class NurtureEmail(EmailMultiAlternatives):
    """Headers are never folded below RFC 5322's 998-character limit.

    Python folds a header longer than 78 characters at its spaces; List-Unsubscribe is one long
    URL with none, which it would turn into an RFC 2047 encoded word that no mailbox provider
    decodes there, so the one-click unsubscribe would break.
    """

    def message(self, *, policy=email.policy.default):
        return super().message(policy=policy.clone(max_line_length=998))


class BadToken(Exception):
    """A tracking or unsubscribe token that was tampered with or is not ours."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


# --- Tokens and links --------------------------------------------------------------------------


# No timestamp: links in an email must keep working for as long as the email is kept, and the
# same email always carries the same links.
def _sign(value, salt: str) -> str:
    return signing.Signer(salt=salt).sign_object(value, compress=True)


def read_token(token: str, *, salt: str):
    try:
        return signing.Signer(salt=salt).unsign_object(token)
    except (signing.BadSignature, ValueError) as exc:
        raise BadToken(str(exc)) from None


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def unsubscribe_url(message_id: int) -> str:
    token = _sign(message_id, SALT_UNSUBSCRIBE)
    return _absolute(reverse("nurturing:unsubscribe", args=[token]))


def open_url(message_id: int) -> str:
    return _absolute(reverse("nurturing:open", args=[_sign(message_id, SALT_OPEN)]))


def click_url(message_id: int, url: str) -> str:
    token = _sign([message_id, url], SALT_CLICK)
    return _absolute(reverse("nurturing:click", args=[token]))


def is_safe_target(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


# --- Templates ---------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _compiled(source: str):
    return _ENGINE.from_string(source)


def _render(source: str, context: dict[str, str], *, html: bool) -> str:
    # Escaping is the Context's business: HTML bodies escape the lead's fields, text does not.
    return _compiled(source).render(Context(context, autoescape=html))


def check_template(source: str, *, autoescape: bool = False) -> str | None:
    """Why a marketer's template cannot be saved (a syntax error, something the policy in
    template_policy.py refuses, an error when rendered), or None when it is fine."""
    try:
        template_policy.check(_compiled(source))
        _render(source, SAMPLE_CONTEXT, html=autoescape)
    except (TemplateSyntaxError, TemplateDoesNotExist, LookupError, ValueError, TypeError) as exc:
        return str(exc)
    return None


def lead_context(lead: Lead) -> dict[str, str]:
    owner = lead.owner
    owner_name = (owner.get_full_name() or owner.get_username()) if owner else ""
    return {
        "first_name": lead.first_name.strip() or "there",
        "last_name": lead.last_name,
        "full_name": lead.full_name or lead.first_name or "there",
        "company": lead.company_name.strip() or "your company",
        "title": lead.title,
        "owner_name": owner_name or "the team",
        "email": lead.email,
    }


def render(*, subject: str, body_text: str, body_html: str, context: dict[str, str]) -> Rendered:
    text = _render(body_text, context, html=False)
    rendered_html = _render(body_html, context, html=True) if body_html else ""
    # Header injection is impossible: a subject is one line, whatever the template produced.
    one_line = " ".join(_render(subject, context, html=False).split())
    return Rendered(subject=one_line[:255], text=text, html=rendered_html)


# --- The message -------------------------------------------------------------------------------


def _track_links(body: str, message_id: int) -> str:
    def swap(match: re.Match) -> str:
        tracked = html.escape(click_url(message_id, html.unescape(match.group(3))))
        quote = match.group(2)
        return f"{match.group(1)}{quote}{tracked}{quote}"

    return _HREF.sub(swap, body)


def _html_footer(message_id: int, unsubscribe: str) -> str:
    return (
        '<p style="font-size:12px;color:#777">You receive these emails from '
        f"{html.escape(site_name())}. "
        f'<a href="{html.escape(unsubscribe)}">Unsubscribe</a></p>'
        f'<img src="{html.escape(open_url(message_id))}" width="1" height="1" alt="" '
        'style="display:block;border:0">'
    )


def _with_footer(body: str, footer: str) -> str:
    if _BODY_END.search(body):
        return _BODY_END.sub(lambda m: footer + m.group(0), body, count=1)
    return body + footer


def site_name() -> str:
    return urlsplit(settings.SITE_URL).hostname or "leadcrm"


def build(*, message_id: int, to: str, rendered: Rendered) -> NurtureEmail:
    """The email for nurture Message `message_id`, with tracking and unsubscribe built in."""
    unsubscribe = unsubscribe_url(message_id)
    text = f"{rendered.text.rstrip()}\n\n--\nUnsubscribe: {unsubscribe}\n"
    message = NurtureEmail(
        subject=rendered.subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            # The same Message-ID on every attempt lets receivers drop a copy, should one exist.
            "Message-ID": message_id_header(message_id),
            "X-Nurture-Message": str(message_id),
        },
    )
    if rendered.html:
        body = _track_links(rendered.html, message_id)
        message.attach_alternative(
            _with_footer(body, _html_footer(message_id, unsubscribe)), "text/html"
        )
    return message


def message_id_header(message_id: int) -> str:
    return f"<nurture-{message_id}@{site_name()}>"
