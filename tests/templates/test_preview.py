"""Previews: files for a marketer, and screenshots from Debian's Chromium."""

from __future__ import annotations

import email
import email.policy
import json
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from templates import Renderer
from templates.preview import CHROMIUM, PreviewError, write_preview


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_preview_writes_html_text_eml_and_push(renderer: Renderer, tmp_path: Path) -> None:
    preview = write_preview(renderer, "winback", locale="ko", out=tmp_path)
    assert set(preview.files) == {"html", "text", "eml", "push"}
    html = preview.files["html"].read_text(encoding="utf-8")
    assert 'lang="ko"' in html
    text = preview.files["text"].read_text(encoding="utf-8")
    assert text.startswith("Subject: 고객님이 그리웠어요\n")
    message = email.message_from_bytes(
        preview.files["eml"].read_bytes(), policy=email.policy.default
    )
    assert message["Content-Language"] == "ko"
    push = json.loads(preview.files["push"].read_text(encoding="utf-8"))
    assert push["locale"] == "ko" and push["title"]


def test_preview_without_chromium_is_a_clear_error(renderer: Renderer, tmp_path: Path) -> None:
    with pytest.raises(PreviewError, match="install Debian's chromium"):
        write_preview(
            renderer, "newsletter", locale="en", out=tmp_path, png=True, chromium=tmp_path / "no"
        )


@pytest.mark.browser
def test_png_previews_at_desktop_and_mobile_widths(renderer: Renderer, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package to take PNGs")
    preview = write_preview(renderer, "newsletter", locale="ar", out=tmp_path, png=True)
    desktop = _png_size(preview.files["png_desktop"])
    mobile = _png_size(preview.files["png_mobile"])
    assert desktop[0] == 1200 and mobile[0] == 390
    assert desktop[1] > 400 and mobile[1] > desktop[1]  # the phone layout is taller


@pytest.mark.browser
def test_preview_command_with_png(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package to take PNGs")
    from cli.templates import app

    result = CliRunner().invoke(
        app, ["preview", "promotion", "--locale", "de", "--out", str(tmp_path), "--png", "--json"]
    )
    assert result.exit_code == 0, result.output
    files = json.loads(result.stdout)[0]["files"]
    assert set(files) >= {"html", "text", "eml", "push", "png_desktop", "png_mobile"}
    assert all(Path(f).is_file() for f in files.values())
