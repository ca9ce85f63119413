"""Secrets out of what harness prints or writes: credentials in URIs and in command lines.

A tracking URI, a cluster address or a download URL can carry a password (``http://user:PASSWORD@host/``) or
a token in its query (``?token=...``, ``&sig=...``); reports, records and metadata are made to be shared, so
every place that writes a command line, a URI or an error message passes it through :func:`redact` first.
As pip does (``redact_auth_from_url``), the password of ``user:password@`` becomes ``****`` and a user name
alone (often a token) becomes ``****``; so does the value of a query parameter whose name says it is a secret.
"""

from __future__ import annotations

import re
from typing import Any

#: What a secret is replaced with.
MASK = "****"

#: Names (of query parameters and of command-line options) that hold secrets: ``token``, ``api_key``,
#: ``X-Amz-Signature``, ``password``, ``client_secret``, ``sig``...
_SECRET_NAME = r"[A-Za-z0-9_.\-]*(?:token|key|secret|passw|pwd|sig|auth|credential)[A-Za-z0-9_.\-]*"

#: ``scheme://userinfo@``: the user information of a URI anywhere in a text (no spaces, slashes or ``@``).
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^\s/@?#'\"<>]+)@")
#: ``?name=value`` or ``&name=value`` with a secret's name.
_QUERY = re.compile(rf"(?P<head>[?&;](?P<name>{_SECRET_NAME})=)(?P<value>[^&#\s'\"<>]+)", re.IGNORECASE)
#: Names of command-line options that hold secrets (narrower: ``--keyword`` is no key).
_SECRET_OPTION = r"--?[A-Za-z0-9_\-]*(?:token|secret|passw|pwd|api[_\-]?key|access[_\-]?key|credential)[A-Za-z0-9_\-]*"
#: ``--token=VALUE`` (an option whose name says it holds a secret), as one argument.
_OPTION = re.compile(rf"^(?P<head>{_SECRET_OPTION}=)(?P<value>.+)$", re.IGNORECASE)
_OPTION_NAME = re.compile(rf"^{_SECRET_OPTION}$", re.IGNORECASE)


def _userinfo(match: re.Match[str]) -> str:
    user, colon, _ = match["userinfo"].partition(":")
    shown = f"{user}:{MASK}" if colon else MASK
    return f"{match['scheme']}{shown}@"


def redact(text: str) -> str:
    """``text`` (a URI, a command line, an error message) with the credentials of every URI in it masked:
    ``http://user:****@host/``, ``https://****@host/``, ``?token=****``."""
    if "@" in text:
        text = _USERINFO.sub(_userinfo, text)
    if "=" in text:
        text = _QUERY.sub(lambda m: m["head"] + MASK, text)
    return text


def redact_argv(argv: list[str]) -> list[str]:
    """A command line with :func:`redact` applied to each argument, and the value of an option whose name
    says it holds a secret (``--token VALUE``, ``--api-key=VALUE``) masked."""
    out: list[str] = []
    secret_next = False
    for arg in argv:
        arg = str(arg)
        if secret_next and not arg.startswith("-"):
            out.append(MASK)
        else:
            match = _OPTION.match(arg)
            out.append(match["head"] + MASK if match else redact(arg))
        secret_next = bool(_OPTION_NAME.match(arg))
    return out


def redact_value(value: Any) -> Any:
    """``value`` (a record, metadata: dicts, lists and strings) with :func:`redact` applied to every string
    in it; ``argv`` lists as :func:`redact_argv` does."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: (redact_argv(item) if key == "argv" and isinstance(item, list) else redact_value(item))
                for key, item in value.items()}
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    if isinstance(value, tuple):
        return tuple(redact_value(item) for item in value)
    return value


def is_redacted(text: str) -> bool:
    """Whether :func:`redact` masked something in ``text``: what was stored is not what was given."""
    return MASK in text
