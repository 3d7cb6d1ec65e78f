"""Emails and push texts in the customer's language: MJML templates, catalogs, rendering.

See ``render.Renderer`` for the API, ``kinds.yaml`` for what each kind of message gets,
and ``compile`` for how a template becomes HTML once and is then filled per recipient.
"""

from templates.render import RenderedEmail, RenderedPush, Renderer, RenderError, TemplateInvalid

__all__ = ["RenderError", "RenderedEmail", "RenderedPush", "Renderer", "TemplateInvalid"]
