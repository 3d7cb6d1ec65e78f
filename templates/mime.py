"""The wire form of a rendered email, written directly.

``email.message.EmailMessage`` builds and then re-folds every header through its policy
machinery: about 4 ms a message, the slowest step of a send by far. A campaign email always
has the same shape (multipart/alternative: text, then HTML, UTF-8), so this module writes
those bytes itself: RFC 2047 encoded words for non-ASCII headers (``email.header``), and
quoted-printable or base64 bodies (``binascii``), CRLF line ends, no line over 998
characters. ``tests/templates/test_mime.py`` checks that Python's parser reads back exactly
what :meth:`RenderedEmail.to_mime` would have produced.
"""

from __future__ import annotations

import binascii
import secrets
from collections.abc import Mapping
from email.header import Header
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from functools import lru_cache

from templates.errors import RenderError
from templates.renderer import EmailContent

CRLF = "\r\n"


def check_header(name: str, value: str) -> str:
    """``value`` if it can be one header line; a CR or LF would end the header and start
    another (a name with CR LF can turn into a second address in ``To``)."""
    if "\r" in value or "\n" in value:
        raise RenderError(
            f"{name} contains a line break (CR or LF); a header value must be one line"
        )
    return value


def _text_header(value: str) -> str:
    """A header value: as is when ASCII, else RFC 2047 encoded words, folded with CRLF."""
    if value.isascii():
        return value
    return Header(value, "utf-8").encode(linesep=CRLF)


def _address(value: str) -> str:
    name, address = parseaddr(value)
    return formataddr((name, address), charset="utf-8") if name else address


@lru_cache(maxsize=64)
def _sender(value: str) -> tuple[str, str]:
    """(the From header, the Message-ID domain): one sender for a whole campaign."""
    domain = parseaddr(value)[1].rpartition("@")[2] or "localhost"
    return _address(value), domain


def transfer_encoding(text: str) -> str:
    """Base64 for mostly non-Latin text (shorter), quoted-printable otherwise."""
    if text.isascii():
        return "quoted-printable" if any(len(line) > 78 for line in text.splitlines()) else "7bit"
    extra = len(text.encode("utf-8")) - len(text)  # 1-3 more bytes per non-ASCII character
    return "base64" if extra > len(text) * 0.5 else "quoted-printable"


def _body(text: str) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, the encoded body with CRLF line ends)."""
    text = text.replace("\r\n", "\n")
    if not text.endswith("\n"):
        text += "\n"
    encoding = transfer_encoding(text)
    data = text.encode("utf-8")
    if encoding == "base64":
        encoded = binascii.b2a_base64(data, newline=False)
        lines = [encoded[i : i + 76] for i in range(0, len(encoded), 76)]
        return encoding, b"\r\n".join(lines) + b"\r\n"
    if encoding == "quoted-printable":
        data = binascii.b2a_qp(data, istext=True)
    return encoding, data.replace(b"\n", b"\r\n")


def _part(subtype: str, text: str) -> bytes:
    encoding, body = _body(text)
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: {encoding}{CRLF}{CRLF}"
    )
    return head.encode("ascii") + body


def wire_bytes(
    email: EmailContent, *, sender: str, to: str, headers: Mapping[str, str] | None = None
) -> bytes:
    """The message :meth:`RenderedEmail.to_mime` describes, as bytes ready for a provider.

    ``headers`` are added last and replace a header of the same name. A value with a line
    break raises :class:`RenderError` (that recipient fails; nothing is written).
    """
    from_header, domain = _sender(check_header("From", sender))
    fields = {
        "Subject": _text_header(check_header("Subject", email.subject)),
        "From": from_header,
        "To": _address(check_header("To", to)),
        "Date": formatdate(usegmt=True),
        "Message-ID": make_msgid(domain=domain),
        "Content-Language": check_header("Content-Language", email.locale),
    }
    lowered = {name.lower(): name for name in fields}
    for name, value in (headers or {}).items():
        fields.pop(lowered.get(name.lower(), name), None)
        fields[check_header("header name", name)] = _text_header(check_header(name, value))
    boundary = f"=_hc_{secrets.token_hex(12)}"
    fields["MIME-Version"] = "1.0"
    fields["Content-Type"] = f'multipart/alternative; boundary="{boundary}"'
    head = "".join(f"{name}: {value}{CRLF}" for name, value in fields.items()) + CRLF
    dash = f"--{boundary}{CRLF}".encode("ascii")
    return b"".join(
        (
            head.encode("ascii"),
            dash,
            _part("plain", email.text),
            dash,
            _part("html", email.html),
            f"--{boundary}--{CRLF}".encode("ascii"),
        )
    )
