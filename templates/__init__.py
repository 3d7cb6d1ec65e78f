"""Emails and push texts in the customer's language: MJML templates, catalogs, rendering.

See ``render.Renderer`` for the API, ``kinds.yaml`` for what each kind of message gets,
``choosing`` for which locale a customer gets, and ``compile`` for how a template becomes
HTML once and is then filled per recipient.
"""

from templates.render import (
    LocaleChoice,
    LocaleSkipped,
    RenderedEmail,
    RenderedPush,
    Renderer,
    RenderError,
    TemplateInvalid,
)

__all__ = [
    "LocaleChoice",
    "LocaleSkipped",
    "RenderError",
    "RenderedEmail",
    "RenderedPush",
    "Renderer",
    "TemplateInvalid",
]
