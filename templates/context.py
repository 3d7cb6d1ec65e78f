"""Per-recipient values that know their own names, so a gap is reported as ``order.number``.

The context is copied once per message into :class:`Node` (a dict) and :class:`Seq`
(a list) that carry their path; a ``None`` or a blank text becomes :class:`Missing`, a
strict undefined that raises as soon as it is printed, compared or iterated, and so does
a key that is not there. Templates test optional values with ``is present``. The copy
also keeps the caller's context safe from anything a template does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, Undefined
from jinja2.utils import missing


class Missing(StrictUndefined):
    """Undefined that names the whole path of the missing value."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        obj = self._undefined_obj
        name = self._undefined_name
        if isinstance(obj, Node | Seq):
            return f"missing value: {obj._path}.{name}"
        if obj is missing:
            return f"missing value: {name}"
        return f"missing value: {name} of {type(obj).__name__}"


class Node(dict):
    """A mapping of the context, with its path (``links``, ``products[0]``)."""

    __slots__ = ("_path",)
    _path: str


class Seq(list):
    """A list of the context, with its path."""

    __slots__ = ("_path",)
    _path: str


_PLAIN = (int, float, bool)


def convert(value: Any, path: str) -> Any:
    """A copy of ``value`` in which every gap is a :class:`Missing` naming its path."""
    kind = type(value)
    if kind is str:
        if value and not value[0].isspace() and not value[-1].isspace():
            return value  # the common case, without strip()
        return value if value.strip() else Missing(name=path)
    if kind in _PLAIN:
        return value
    if value is None:
        return Missing(name=path)
    if isinstance(value, Mapping):
        node = Node()
        node._path = path
        for key, item in value.items():
            kind = type(item)
            if kind is str and item and not item[0].isspace() and not item[-1].isspace():
                node[key] = item  # inline for the common case: no call, no path text
            elif kind in _PLAIN:
                node[key] = item
            else:
                node[key] = convert(item, f"{path}.{key}")
        return node
    if isinstance(value, list | tuple):
        seq = Seq(convert(item, f"{path}[{i}]") for i, item in enumerate(value))
        seq._path = path
        return seq
    return value


def node(data: Mapping[str, object], path: str) -> Node:
    """A mapping known to be complete (store, texts), converted the same way."""
    result = convert(data, path)
    assert isinstance(result, Node)
    return result


def wrap_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """The top level of a render context; ``None`` and blank values are left out."""
    out: dict[str, Any] = {}
    for key, value in context.items():
        found = convert(value, key)
        if not isinstance(found, Undefined):
            out[key] = found
    return out


def present(value: Any) -> bool:
    """The ``is present`` test: defined, not None and not blank."""
    kind = type(value)
    if kind is str:
        return bool(value.strip())
    if kind is Node or kind is Seq:
        return len(value) > 0
    return not (value is None or isinstance(value, Undefined))
