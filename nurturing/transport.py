"""Hand one email to the configured mailer, asking the caller's permission before the point of
no return.

With SMTP, a server accepts a message only when it answers the final "." of DATA. We say
everything else first (MAIL, RCPT, DATA and the whole body), then call `commit()`, which
records in the database that the email is being committed, and only then send the ".". A worker
that dies before `commit()` has delivered nothing (the server drops a transaction whose
connection closes mid-DATA), so its claim can safely be retried. Only a death between
`commit()` and recording the server's answer leaves the outcome unknown.

Other backends (console, file, locmem: `make run` and unit tests) have no such phases:
`commit()` is called just before `send_messages`.
"""

import email.policy
import re
import smtplib
import socket
from collections.abc import Callable

from django.core import mail
from django.core.mail import EmailMessage
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend

from core.redact import redact_addresses

CRLF = b"\r\n"
_BARE_EOL = re.compile(rb"\r\n|\n|\r(?!\n)")
_LEADING_DOT = re.compile(rb"(?m)^\.")


class Refused(Exception):
    """A permanent (5xx) refusal of this recipient or this message: do not try again."""

    def __init__(self, code: int, response: str):
        super().__init__(f"{code} {response}")
        self.code = code
        self.response = response


class Transient(Exception):
    """Nothing was committed and trying again later may work (server down, 4xx, auth)."""


class NotCommitted(Exception):
    """`commit()` said no (the claim was lost): nothing was sent."""


class AcceptanceUnknown(Exception):
    """The connection failed after `commit()`: the server may or may not have the email."""


def _text(response: bytes | str) -> str:
    """A server's answer or an error's text, with any address in it redacted: it is stored on
    the email's row and logged (core.redact)."""
    text = response.decode(errors="replace") if isinstance(response, bytes) else str(response)
    return redact_addresses(text)


def _describe(exc: Exception) -> str:
    return _text(str(exc) or type(exc).__name__)


def _check(code: int, response: bytes, ok: tuple[int, ...]) -> None:
    if code in ok:
        return
    if 500 <= code < 600:
        raise Refused(code, _text(response))
    raise Transient(f"{code} {_text(response)}")


class Mailer:
    """One connection to the default mailer (MAILERS["default"]), reused for a batch."""

    def __init__(self) -> None:
        self.backend = mail.mailers.default
        # The SMTP backend, whose connection we drive ourselves (see the module docstring).
        self.smtp = self.backend if isinstance(self.backend, SmtpBackend) else None

    def __enter__(self) -> "Mailer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.backend.close()
        except (OSError, smtplib.SMTPException):
            # The connection is already broken; there is nothing left to tidy up.
            if self.smtp is not None:
                self.smtp.connection = None

    def _abort(self) -> None:
        """Drop the connection without a word. Mid-DATA a QUIT would be read as body text and
        waited on for a whole timeout; a broken connection has nothing left to say."""
        if self.smtp is None:
            return
        conn, self.smtp.connection = self.smtp.connection, None
        if conn is not None:
            conn.close()  # smtplib's close() only closes the socket

    def send(self, message: EmailMessage, *, commit: Callable[[], bool]) -> str:
        """Send `message`; returns the server's final answer. See the module docstring."""
        if self.smtp is None:
            if not commit():
                raise NotCommitted
            self.backend.send_messages([message])
            return "accepted by " + type(self.backend).__module__
        return self._send_smtp(self.smtp, message, commit)

    def _open(self, smtp: SmtpBackend) -> smtplib.SMTP:
        try:
            smtp.open()
        except smtplib.SMTPResponseException as exc:
            # A refused login or STARTTLS is the sender's problem, never the recipient's.
            self.close()
            raise Transient(f"{exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise Transient(_describe(exc)) from exc
        conn = smtp.connection
        if conn is None:
            # open() failed silently (a fail_silently mailer): as if it had raised.
            raise Transient("could not connect to the mail server")
        if conn.sock is not None:
            # The body and the final "." go out as two writes; without NODELAY, Nagle holds the
            # dot until the server acknowledges the body, which it delays: ~40 ms per email.
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _send_smtp(
        self, smtp: SmtpBackend, message: EmailMessage, commit: Callable[[], bool]
    ) -> str:
        conn = self._open(smtp)
        sender = smtp.prep_address(message.from_email)
        recipients = [smtp.prep_address(addr) for addr in message.recipients()]
        data = message.message(policy=email.policy.SMTP).as_bytes()
        try:
            self._envelope(conn, sender, recipients)
            conn.send(_dot_stuff(data))
        except (Refused, Transient):
            self._reset(conn)
            raise
        except (OSError, smtplib.SMTPException) as exc:
            self._abort()
            raise Transient(_describe(exc)) from exc
        if not commit():
            # Dropping the connection mid-DATA makes the server discard the transaction.
            self._abort()
            raise NotCommitted
        try:
            conn.send(b"." + CRLF)
            code, response = conn.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            self._abort()
            raise AcceptanceUnknown(_describe(exc)) from exc
        if code == 250:
            return _text(response)
        self._reset(conn)
        if 500 <= code < 600:
            raise Refused(code, _text(response))
        raise Transient(f"{code} {_text(response)}")

    @staticmethod
    def _envelope(conn: smtplib.SMTP, sender: str, recipients: list[str]) -> None:
        conn.ehlo_or_helo_if_needed()
        code, response = conn.mail(sender)
        if 500 <= code < 600:
            # The server refuses our sender: a configuration problem, not the lead's address.
            raise Transient(f"sender refused: {code} {_text(response)}")
        _check(code, response, (250,))
        for recipient in recipients:
            code, response = conn.rcpt(recipient)
            _check(code, response, (250, 251))
        conn.putcmd("data")
        code, response = conn.getreply()
        _check(code, response, (354,))

    def _reset(self, conn: smtplib.SMTP) -> None:
        try:
            conn.rset()
        except (OSError, smtplib.SMTPException):
            self._abort()


def _dot_stuff(data: bytes) -> bytes:
    """The body as SMTP wants it on the wire: CRLF line ends, leading dots doubled."""
    data = _LEADING_DOT.sub(b"..", _BARE_EOL.sub(CRLF, data))
    return data if data.endswith(CRLF) else data + CRLF
