"""Web origins ("scheme://host[:port]") as browser sources list them. Pure: no queries.

A browser sends `Origin: https://www.example.com` (lower-case, no default port, no path, the
host in its ASCII form), so an allowed origin is stored in exactly that form and a request's
origin can be compared with a plain string test.
"""

from urllib.parse import urlsplit

SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_LENGTH = 200  # Source.allowed_origins' item length


class InvalidOrigin(ValueError):
    pass


def origin_normalise(value: str) -> str:
    """`value` as a browser would send it in `Origin`, or InvalidOrigin saying what is wrong.

    Accepted: http or https, a host (a name, an IPv4 address or a bracketed IPv6 one), an
    optional port, and at most a bare "/" after it. Refused: a path, query, fragment, user
    name or password, wildcards, "null". The scheme and host are lower-cased, a non-ASCII host
    becomes its IDNA form, and the scheme's default port is dropped.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidOrigin("An origin is scheme://host[:port], e.g. https://www.example.com.")
    text = value.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise InvalidOrigin(f"{text!r} is not a valid origin (check the port).") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise InvalidOrigin(f"{text!r}: the scheme must be http or https.")
    if parts.username is not None or parts.password is not None:
        raise InvalidOrigin(f"{text!r}: an origin has no user name or password.")
    if parts.path not in ("", "/") or parts.query or parts.fragment or text.endswith(("?", "#")):
        raise InvalidOrigin(f"{text!r}: an origin has no path, query or fragment.")
    if port == 0:
        raise InvalidOrigin(f"{text!r}: port 0 is not a port a page is served from.")
    host = _host(text, parts.hostname)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    origin = f"{scheme}://{netloc}"
    if len(origin) > MAX_LENGTH:
        raise InvalidOrigin(f"An origin may be at most {MAX_LENGTH} characters.")
    return origin


def _host(text: str, hostname: str | None) -> str:
    if not hostname:
        raise InvalidOrigin(f"{text!r}: the host is missing.")
    if "*" in hostname:
        raise InvalidOrigin(f"{text!r}: wildcards are not supported; list each origin.")
    if ":" in hostname:  # an IPv6 address; urlsplit checked its brackets
        return hostname.lower()
    try:
        host = hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidOrigin(f"{text!r}: the host is not a valid name.") from None
    labels = host.rstrip(".").split(".")
    if not all(label and _label_ok(label) for label in labels):
        raise InvalidOrigin(f"{text!r}: the host is not a valid name.")
    return host.rstrip(".")


def _label_ok(label: str) -> bool:
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-_")
    return len(label) <= 63 and set(label) <= allowed and not label.startswith("-")


def origins_normalise(values: list[str]) -> list[str]:
    """Each origin normalised, duplicates dropped, in the order given."""
    found: list[str] = []
    for value in values:
        origin = origin_normalise(value)
        if origin not in found:
            found.append(origin)
    return found
