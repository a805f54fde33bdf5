"""Marking user-facing messages outside a request (pure; no Flask).

Domain code raises :class:`DomainError` subclasses whose ``message`` is an English msgid marked
with :func:`N_` (extracted by Babel); the view translates it when it shows it to the user.
"""
from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext-noop name
    """Mark ``message`` for translation without translating it now."""
    return message


class DomainError(Exception):
    """A refusal a user should read: ``message`` is a msgid, ``params`` fill its placeholders."""

    message = N_("This action is not allowed.")

    def __init__(self, message: str | None = None, **params):
        self.message = message or type(self).message
        self.params = params
        try:
            text = self.message % {k: ", ".join(v) if isinstance(v, (list, tuple)) else v for k, v in params.items()}
        except (KeyError, ValueError, TypeError):
            text = self.message
        super().__init__(text)


class NotAllowed(DomainError):
    """The actor may see the object but not do this (HTTP 403)."""

    message = N_("You are not allowed to do this.")


class NotFound(DomainError):
    """Unknown, or not visible to the actor (HTTP 404: never reveal that it exists)."""

    message = N_("Not found.")


class Refused(DomainError):
    """A step the rules forbid now; raised with the rule's msgid (HTTP 409 in the API)."""

    message = N_("This step is not allowed now.")
