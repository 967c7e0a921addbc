"""DRF's browsable API under the site's Content Security Policy."""

from django.conf import settings
from django.utils.csp import CSP, build_policy
from rest_framework import renderers

# DRF's browsable pages carry `style=` attributes and an inline <style> (syntax colours) in
# templates we do not own. They get the site's policy with inline *styles* allowed; scripts
# still come only from files. (Django's CSP middleware keeps a header a response already has.)
BROWSABLE_API_CSP: dict[str, list[str] | str] = {
    **settings.SECURE_CSP,
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
}


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        page = super().render(data, accepted_media_type, renderer_context)
        response = (renderer_context or {}).get("response")
        if response is not None:
            response.headers[str(CSP.HEADER_ENFORCE)] = build_policy(BROWSABLE_API_CSP)
        return page
