"""Which variables a template uses, read from its Jinja code, checked against its kind.

Kept apart from ``templates.validate`` (which runs every check over every template, locale
and variant): this is the one static analysis of template code, a walk over Jinja's syntax
tree that follows loops, assignments and macros back to the context variable they read.
"""

from __future__ import annotations

from typing import Any

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError

from templates.compile import HTML_ENV
from templates.formatting import LOCALE_VAR
from templates.library import Field, ListOf

BUILTINS = {"texts", "loop", "range", "dict", "namespace", "cycler", "joiner", "lipsum", LOCALE_VAR}
MAPPING_METHODS = {"items", "keys", "values", "get"}

Path_ = tuple[str, tuple[Any, ...]]


def check_variables(source: str, fields: dict[str, Field], *, kind: str) -> list[tuple[str, str]]:
    """(path, message) for each variable ``source`` uses that ``fields`` do not provide."""
    return sorted(
        {(path, message) for path, message, _ in check_variables_at(source, fields, kind=kind)}
    )


def check_variables_at(
    source: str, fields: dict[str, Field], *, kind: str
) -> list[tuple[str, str, int]]:
    """The same with the line of ``source`` where each one is first used."""
    try:
        tree = HTML_ENV.parse(source)
    except TemplateSyntaxError as exc:
        return [("", f"line {exc.lineno}: {exc.message}", exc.lineno)]
    used: list[tuple[Path_, int]] = []
    _walk(tree, {}, used)
    out: dict[tuple[str, str], int] = {}
    for (root, comps), line in used:
        message = _check(fields, root, comps, kind)
        if message:
            out.setdefault(message, line)
    return [(path, message, line) for (path, message), line in out.items()]


def _chain(node: nodes.Node) -> tuple[nodes.Node, list[object], list[nodes.Node]]:
    """``a.b['c'][x]`` -> (Name a, ["b", "c", "*"], [x])."""
    comps: list[object] = []
    dynamic: list[nodes.Node] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getattr):
            comps.append(node.attr)
        elif isinstance(node.arg, nodes.Const):
            comps.append(node.arg.value)
        else:
            comps.append("*")
            dynamic.append(node.arg)
        node = node.node
    comps.reverse()
    return node, comps, dynamic


def _resolve(node: nodes.Node, aliases: dict[str, Path_ | None]) -> Path_ | None:
    root, comps, _ = _chain(node)
    if not isinstance(root, nodes.Name):
        return None
    if root.name in aliases:
        base = aliases[root.name]
        return None if base is None else (base[0], (*base[1], *comps))
    if root.name in BUILTINS:
        return None
    return (root.name, tuple(comps))


def _names(target: nodes.Node) -> list[str]:
    if isinstance(target, nodes.Name):
        return [target.name]
    if isinstance(target, nodes.Tuple):
        return [n for item in target.items for n in _names(item)]
    return []


def _bind_loop(node: nodes.For, aliases: dict[str, Path_ | None]) -> dict[str, Path_ | None]:
    inner = dict(aliases)
    for name in _names(node.target):
        inner[name] = None
    it: nodes.Node = node.iter
    if isinstance(it, nodes.Filter) and it.node is not None:  # products|sort(...) and the like
        it = it.node
    if isinstance(it, nodes.Call) and isinstance(it.node, nodes.Getattr):
        method = it.node.attr
        base = _resolve(it.node.node, aliases)
        if base and method in ("items", "values"):
            value_target = node.target
            if method == "items" and isinstance(value_target, nodes.Tuple):
                value_target = value_target.items[-1]
            if isinstance(value_target, nodes.Name):
                inner[value_target.name] = (base[0], (*base[1], "*"))
        return inner
    base = _resolve(it, aliases)
    if base and isinstance(node.target, nodes.Name):
        inner[node.target.name] = (base[0], (*base[1], "[]"))
    return inner


def _walk(
    node: nodes.Node, aliases: dict[str, Path_ | None], used: list[tuple[Path_, int]]
) -> None:
    if isinstance(node, nodes.For):
        _walk(node.iter, aliases, used)
        inner = _bind_loop(node, aliases)
        for child in [*node.body, *node.else_, *([node.test] if node.test else [])]:
            _walk(child, inner, used)
        return
    if isinstance(node, nodes.Assign):
        _walk(node.node, aliases, used)
        for name in _names(node.target):
            aliases[name] = (
                _resolve(node.node, aliases) if isinstance(node.target, nodes.Name) else None
            )
        return
    if isinstance(node, nodes.Macro | nodes.CallBlock):
        inner = dict(aliases)
        for arg in getattr(node, "args", []):
            inner[arg.name] = None
        inner["caller"] = None
        for child in node.iter_child_nodes():
            _walk(child, inner, used)
        return
    if isinstance(node, nodes.Getattr | nodes.Getitem):
        root, _, dynamic = _chain(node)
        found = _resolve(node, aliases)
        if found:
            used.append((found, node.lineno))
        elif not isinstance(root, nodes.Name):
            _walk(root, aliases, used)
        for expr in dynamic:
            _walk(expr, aliases, used)
        return
    if isinstance(node, nodes.Name) and node.ctx == "load":
        found = _resolve(node, aliases)
        if found:
            used.append((found, node.lineno))
        return
    for child in node.iter_child_nodes():
        _walk(child, aliases, used)


def _check(
    fields: dict[str, Field], root: str, comps: tuple[Any, ...], kind: str
) -> tuple[str, str] | None:
    field = fields.get(root)
    if field is None:
        return root, f"uses {root}, which kind {kind} does not provide (valid: {', '.join(fields)})"
    walked = [root]
    for comp in comps:
        shape = field.shape
        if isinstance(shape, dict):
            if comp == "*":
                if "*" not in shape:
                    return None  # a key chosen at send time: cannot be checked here
                field = shape["*"]
            elif isinstance(comp, str | int) and str(comp) in shape:
                field = shape[str(comp)]
            elif comp in MAPPING_METHODS:
                return None
            elif "*" in shape:
                field = shape["*"]
            else:
                path = ".".join([*walked, str(comp)])
                valid = ", ".join(shape)
                return path, (
                    f"uses {path}, which kind {kind} does not provide "
                    f"({'.'.join(walked)} has: {valid})"
                )
        elif isinstance(shape, ListOf):
            if comp in ("[]", "*") or isinstance(comp, int):
                field = shape.item
                comp = "[]"
            else:
                return None  # a list method or filter
        else:
            return None  # a method of a text or number
        walked.append(str(comp))
    return None
