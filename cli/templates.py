"""``homecoming templates``: list, validate and preview email and push templates."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from cli.output import console, fail, print_json, table

if TYPE_CHECKING:
    from templates import Renderer
    from templates.validate import Problem

app = typer.Typer(
    help="Email and push templates in every locale: list, validate, preview.",
    no_args_is_help=True,
)
JSON = typer.Option(False, "--json", help="Print JSON for scripts")


def _folder() -> tuple[Path | None, Path | None, str]:
    # imported on use: keeps `homecoming --help` fast
    from models.settings import get_settings

    settings = get_settings()
    folder = settings.definitions_dir / "templates" if settings.definitions_dir else None
    return (
        (folder if folder and folder.is_dir() else None),
        settings.brand_file,
        (settings.default_locale),
    )


def _renderer() -> Renderer:
    # imported on use: keeps `homecoming --help` fast (Jinja, MJML)
    from templates import Renderer, TemplateInvalid

    folder, brand, default_locale = _folder()
    try:
        return Renderer(directory=folder, brand=brand, default_locale=default_locale)
    except TemplateInvalid as exc:
        raise fail(f"{exc} (run `homecoming templates validate`)") from None


@app.command("list")
def list_cmd(json_out: bool = JSON) -> None:
    """Every template: its kind, channels, variants, and the locales it is written in."""
    renderer = _renderer()
    rows: list[dict[str, Any]] = []
    for name in renderer.names():
        kind = renderer.library.kinds[renderer.kind(name)]
        rows.append(
            {
                "template": name,
                "kind": kind.name,
                "channels": renderer.channels(name),
                "marketing": kind.marketing,
                "variants": renderer.variants(name),
                "description": kind.description,
            }
        )
    locales = renderer.locales()
    if json_out:
        print_json(
            {"templates": rows, "locales": locales, "default_locale": renderer.default_locale}
        )
        return
    console.print(
        table(
            "Templates",
            ["template", "kind", "channels", "marketing", "variants"],
            [
                [
                    r["template"],
                    r["kind"],
                    ", ".join(r["channels"]),
                    "yes" if r["marketing"] else "no",
                    ", ".join(r["variants"]) or "-",
                ]
                for r in rows
            ],
        )
    )
    console.print(f"locales: {', '.join(locales)} (default {renderer.default_locale})")


@app.command("validate")
def validate_cmd(json_out: bool = JSON) -> None:
    """Check every template in every locale; exit 1 naming template, locale and key of each error.

    Checks MJML (also element names and placement, which mjml-python lets through), catalog
    keys, the variables each kind provides, push text lengths, and the unsubscribe link of
    marketing emails.
    """
    from templates.validate import validate_folder

    folder, brand, default_locale = _folder()
    problems = validate_folder(directory=folder, brand=brand, default_locale=default_locale)
    _report(problems, json_out=json_out)


def _report(problems: list[Problem], *, json_out: bool) -> None:
    from templates.validate import errors

    bad = errors(problems)
    warnings = [p for p in problems if p.level != "error"]
    if json_out:
        print_json(
            {
                "ok": not bad,
                "errors": [p.as_dict() for p in bad],
                "warnings": [p.as_dict() for p in warnings],
            }
        )
    else:
        for p in bad:
            console.print(f"[red]error[/] {escape(str(p))}", highlight=False, soft_wrap=True)
        for p in warnings:
            console.print(f"[yellow]warning[/] {escape(str(p))}", highlight=False, soft_wrap=True)
        console.print(
            f"{len(problems)} problem(s): {len(bad)} error(s), {len(warnings)} warning(s)"
            if problems
            else "all templates valid"
        )
    if bad:
        raise typer.Exit(1)


def _check_locale(renderer: Renderer, name: str, locale: str, variant: str | None) -> None:
    """A preview in a locale the template is not written in would silently show another
    language: refuse it, naming the locales that would work."""
    from templates import RenderError, TemplateInvalid

    try:
        choice = renderer.locale_for(name, locale, variant=variant)
    except (RenderError, TemplateInvalid) as exc:
        raise fail(f"{exc} (run `homecoming templates validate`)") from None
    if choice.reason is None:
        return
    valid = [
        c
        for c in renderer.locales()
        if renderer.locale_for(name, c, variant=variant).reason is None
    ]
    raise fail(
        f"template {name} has no {locale} version ({choice.reason}); "
        f"valid locales: {', '.join(valid)}"
    )


@app.command("preview")
def preview_cmd(
    name: str = typer.Argument(..., help="Template name (see `homecoming templates list`)"),
    locale: str = typer.Option(
        None, "--locale", "-l", help="Locale such as de or pt-BR; 'all' for every catalog"
    ),
    variant: str = typer.Option(None, "--variant", help="A/B variant, e.g. b"),
    out: Path = typer.Option(Path("previews"), "--out", help="Folder for the preview files"),
    png: bool = typer.Option(
        False, "--png", help="Also screenshot at desktop and phone widths (Chromium)"
    ),
    json_out: bool = JSON,
) -> None:
    """Write the HTML, text part, .eml and push text of a template filled with sample values."""
    # imported on use: keeps `homecoming --help` fast
    from templates import RenderError, TemplateInvalid
    from templates.preview import PreviewError, screenshots, write_preview

    renderer = _renderer()
    if name not in renderer.names():
        raise fail(f"unknown template {name!r}; valid: {', '.join(renderer.names())}")
    locales = renderer.locales() if locale == "all" else [locale or renderer.default_locale]
    if locale != "all":
        _check_locale(renderer, name, locales[0], variant)
    made = []
    try:
        for code in locales:
            made.append(write_preview(renderer, name, locale=code, out=out, variant=variant))
        if png:
            pages = [
                (p.files["html"].read_text(encoding="utf-8"), p.files["html"].with_suffix(""))
                for p in made
                if "html" in p.files
            ]
            for p, shots in zip(made, screenshots(pages), strict=False):
                p.files.update({f"png_{k}": v for k, v in shots.items()})
    except (RenderError, TemplateInvalid) as exc:
        raise fail(f"{exc} (run `homecoming templates validate`)") from None
    except PreviewError as exc:
        raise fail(str(exc)) from None
    if json_out:
        print_json(
            [
                {
                    "template": p.template,
                    "locale": p.locale,
                    "variant": p.variant,
                    "files": {k: str(v) for k, v in p.files.items()},
                }
                for p in made
            ]
        )
        return
    for p in made:
        label = f"{p.template} [{p.locale}{'@' + p.variant if p.variant else ''}]"
        console.print(label, style="bold", markup=False, highlight=False)
        for kind, path in p.files.items():
            console.print(f"  {kind:12} {path}", markup=False, highlight=False)
