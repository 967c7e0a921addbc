"""The REST API's JSON parser: DRF's, with the two things it lets through answered 400.

- A body nested deeper than MAX_DEPTH (DRF's parser raises RecursionError, a 500, somewhere
  past ~1,000 levels; nothing in the API nests anywhere near 100): `too_deep`.
- Text PostgreSQL cannot store (NUL, unpaired surrogates), anywhere in the body, keys included:
  `invalid_text`, before any of it reaches a query.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from core import text

# (DRF imports this module while core.errors imports DRF: ParseError with our codes, which the
# API's exception handler turns into {"code", "message"} like any other.)
MAX_DEPTH = 100
TOO_DEEP = f"The JSON body is nested more than {MAX_DEPTH} levels deep."


class JSONParser(parsers.JSONParser):
    max_depth: int | None = MAX_DEPTH
    check_text = True

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP, code="too_deep") from None
        if self.max_depth is not None and text.depth(data) > self.max_depth:
            raise ParseError(TOO_DEEP, code="too_deep")
        if self.check_text:
            problem = text.first_text_problem(data)
            if problem:
                raise ParseError(f"The request body contains {problem}.", code="invalid_text")
        return data
