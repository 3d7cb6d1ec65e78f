"""The two ways rendering fails: one recipient's data, or the template itself."""

from __future__ import annotations


class RenderError(Exception):
    """A problem with one recipient's values (a missing order, a non-number price).

    The message names the template, locale and variable, never the value, so it can be
    recorded against the ledger row while the rest of the batch goes on.
    """


class TemplateInvalid(Exception):
    """A template, catalog or brand problem: no message of this template can be sent."""

    def __init__(
        self,
        message: str,
        *,
        template: str | None = None,
        locale: str | None = None,
        key: str | None = None,
    ) -> None:
        self.template = template
        self.locale = locale
        self.key = key
        self.detail = message
        where = " ".join(
            part
            for part in (
                f"template {template}" if template else "",
                f"locale {locale}" if locale else "",
                f"key {key}" if key else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class CatalogBroken(TemplateInvalid, RenderError):
    """A locale's catalog file does not load: only messages that need that locale stop.

    It is also a :class:`RenderError`, so a send records this message (file and line)
    against each recipient of that locale and goes on with the others.
    """


class LocaleSkipped(RenderError):
    """The template has no texts in the customer's language and is set to skip such
    customers (``missing_locale: skip``, or ``skip=True`` from the campaign)."""

    def __init__(self, message: str, *, template: str, locale: str | None) -> None:
        self.template = template
        self.locale = locale
        self.reason = message
        super().__init__(f"{template} [{locale}]: {message}")
