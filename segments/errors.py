"""Errors of segment definitions and models, each saying what is wrong and what would be valid."""

from __future__ import annotations

from models.yaml_loader import YamlError


class PredictionError(ValueError):
    """The data cannot support a model fit (too few customers, bad input, no convergence)."""


class DefinitionError(YamlError):
    """A mistake in a definition, with the file and line and what would be valid."""

    @classmethod
    def of(cls, exc: YamlError) -> DefinitionError:
        """A file the YAML loader refused (syntax, size, depth, aliases), as a definition error."""
        return cls(exc.source, exc.line, exc.message)

    def not_loaded(self, what: str, name: str) -> DefinitionError:
        """This error, saying which definition it keeps from loading (so a command given that
        name can show it)."""
        return DefinitionError(
            self.source, self.line, f"{self.message} ({what} {name!r} is not loaded)"
        )
