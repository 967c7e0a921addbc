"""Personal data out of texts that end up in logs and in rows users read.

Mail servers name the recipient in their errors (`550 <ada@example.com>: user unknown`), and
smtplib's exceptions carry the refused addresses. Those texts are stored on the email's row
(every marketer reads them) and logged: the address is replaced first.
"""

import re

# Anything@anything up to a delimiter: no attempt at RFC 5321 validity, since a missed address
# is a leak and a redacted non-address costs nothing.
_ADDRESS = re.compile(r"""[^\s<>'"(),;:\[\]{}]+@[^\s<>'"(),;:\[\]{}]+""")
REDACTED = "[address]"


def redact_addresses(text: str) -> str:
    return _ADDRESS.sub(REDACTED, text)
