"""What a renderer must offer the code that sends: the contract, not the implementation.

:class:`templates.Renderer` is the real renderer; campaigns and surveys are typed against
:class:`MessageRenderer` so a stand-in (the tests' fake) is checked against the same
methods, and a change to either side shows up as a type error. This module imports nothing
of the project, so anything (``templates.mime`` among them) may use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class EmailContent(Protocol):
    """A rendered email, as a transport writes it (``templates.RenderedEmail``)."""

    @property
    def subject(self) -> str: ...

    @property
    def preheader(self) -> str: ...

    @property
    def html(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def locale(self) -> str: ...

    @property
    def direction(self) -> str: ...


class PushContent(Protocol):
    """A rendered push notification (``templates.RenderedPush``)."""

    @property
    def title(self) -> str: ...

    @property
    def body(self) -> str: ...

    @property
    def deep_link(self) -> str | None: ...


class MessageRenderer(Protocol):
    """The methods campaigns call on a renderer: which templates exist, and rendering one
    email or push for one recipient (``fallback`` and ``skip``: the campaign's choice for a
    customer whose language the template lacks, over the template's own)."""

    def names(self) -> list[str]:
        """Every template name."""
        ...

    def channels(self, template: str) -> list[str]:
        """The channels (``email``, ``push``) a template has a version for."""
        ...

    def email(
        self,
        template: str,
        *,
        locale: str,
        context: Mapping[str, Any],
        variant: str | None = None,
        fallback: str | None = None,
        skip: bool | None = None,
    ) -> EmailContent: ...

    def push(
        self,
        template: str,
        *,
        locale: str,
        context: Mapping[str, Any],
        variant: str | None = None,
        fallback: str | None = None,
        skip: bool | None = None,
    ) -> PushContent: ...


class LocaleAnswer(Protocol):
    """Which locale a customer gets for a template (``templates.LocaleChoice``)."""

    @property
    def locale(self) -> str | None: ...  # None: skip the customer

    @property
    def reason(self) -> str | None: ...  # why not the customer's own language


class LocaleChooser(Protocol):
    """The renderer's answer before rendering, for code that records skips itself. Kept
    apart from :class:`MessageRenderer` so stand-ins need not implement it."""

    def locale_for(
        self,
        template: str,
        locale: str | None,
        *,
        variant: str | None = None,
        fallback: str | None = None,
        skip: bool | None = None,
    ) -> LocaleAnswer: ...


__all__ = ["EmailContent", "LocaleAnswer", "LocaleChooser", "MessageRenderer", "PushContent"]
