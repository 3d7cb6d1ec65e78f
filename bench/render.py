"""Rendering speed: the one-off compile per template x locale, then personalized emails per second.

    .venv/bin/python -m bench.render [--count 20000] [--template winback] [--json]

Compile: every template in every locale from a cold renderer (stage-1 Jinja, mjml-python,
the stage-2 and text templates), timed one by one.

Render: ``--count`` emails of one template, each for a different customer (own name,
locale, order number, order total and date, three products out of a catalogue of 500),
round-robin over every locale, after the compiles. One render is the whole email: subject,
preheader, HTML and text part. Also timed: the same with the MIME message built and
serialized (what a channel sends), and push texts.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import date, timedelta
from typing import Any

from templates import Renderer

NAMES = ["Emma", "Lena", "Elif", "Eszter", "지은", "Camille", "Zofia", "Astrid", "ليلى", "Inês", ""]
CURRENCIES = {"de": "EUR", "fr": "EUR", "pt": "EUR", "tr": "TRY", "hu": "HUF", "ko": "KRW"}


def contexts(renderer: Renderer, template: str, count: int, seed: int = 7) -> list[tuple]:
    """(locale, context) pairs, all different; products from a catalogue of 500."""
    rng = random.Random(seed)
    locales = renderer.locales()
    catalogue = [
        {
            "name": f"Product {i} – {rng.choice(['mug', 'towel', 'teapot', 'lamp', 'throw'])}",
            "url": f"https://shop.example.com/products/SKU-{i}",
            "price": round(rng.uniform(3, 400), 2),
            "image_url": f"https://images.example.com/SKU-{i}.jpg",
        }
        for i in range(500)
    ]
    base = renderer.sample_context(template, "en")
    out = []
    for n in range(count):
        locale = locales[n % len(locales)]
        currency = CURRENCIES.get(locale, "GBP")
        context: dict[str, Any] = {**base}
        context["customer"] = {"first_name": rng.choice(NAMES), "last_name": "", "locale": locale}
        context["links"] = {
            **base["links"],
            "unsubscribe": f"https://shop.example.com/u/{n:08d}-token",
            "preferences": f"https://shop.example.com/p/{n:08d}-token",
        }
        context["products"] = [{**p, "currency": currency} for p in rng.sample(catalogue, 3)]
        if "order" in base:
            context["order"] = {
                "number": f"HC-{100000 + n}",
                "date": date(2025, 1, 1) + timedelta(days=rng.randrange(400)),
                "total": round(rng.uniform(10, 900), 2),
                "currency": currency,
            }
        out.append((locale, context))
    return out


def bench_compile(directory: Any = None) -> dict[str, Any]:
    renderer = Renderer(directory=directory)
    times: dict[str, float] = {}
    for template in renderer.names():
        for locale in renderer.locales():
            start = time.perf_counter()
            renderer.compiled_email(template, locale)
            times[f"{template}/{locale}"] = time.perf_counter() - start
    values = list(times.values())
    first = values[0]  # includes parsing base.mjml and parts.mjml once
    return {
        "compiles": len(values),
        "total_s": round(sum(values), 3),
        "mean_ms": round(statistics.mean(values) * 1000, 2),
        "median_ms": round(statistics.median(values) * 1000, 2),
        "max_ms": round(max(values) * 1000, 2),
        "first_ms": round(first * 1000, 2),
        "slowest": max(times, key=times.__getitem__),
    }


def bench_render(renderer: Renderer, template: str, count: int) -> dict[str, Any]:
    pairs = contexts(renderer, template, count)
    for locale in renderer.locales():  # the one-off compiles, not timed here
        renderer.compiled_email(template, locale)
    start = time.perf_counter()
    for locale, context in pairs:
        renderer.email(template, locale=locale, context=context)
    email_s = time.perf_counter() - start

    mime_n = max(1, count // 4)
    start = time.perf_counter()
    for locale, context in pairs[:mime_n]:
        rendered = renderer.email(template, locale=locale, context=context)
        rendered.wire(sender="Store <store@example.com>", to="c@example.com")
    mime_s = time.perf_counter() - start

    push_s = None
    if "push" in renderer.channels(template):
        start = time.perf_counter()
        for locale, context in pairs:
            renderer.push(template, locale=locale, context=context)
        push_s = time.perf_counter() - start
    sample = renderer.email(template, locale="en", context=pairs[0][1])
    return {
        "template": template,
        "emails": count,
        "locales": len(renderer.locales()),
        "emails_per_s": round(count / email_s),
        "us_per_email": round(email_s / count * 1e6, 1),
        "emails_with_mime_per_s": round(mime_n / mime_s),
        "push_per_s": round(count / push_s) if push_s else None,
        "html_bytes": len(sample.html.encode()),
        "text_bytes": len(sample.text.encode()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000, help="emails to render")
    parser.add_argument("--template", default="winback", help="template to render")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)

    compiled = bench_compile()
    rendered = bench_render(Renderer(), args.template, args.count)
    if args.json:
        print(json.dumps({"compile": compiled, "render": rendered}, ensure_ascii=False, indent=2))
        return 0
    print(
        f"compile: {compiled['compiles']} template x locale in {compiled['total_s']} s; "
        f"per compile mean {compiled['mean_ms']} ms, median {compiled['median_ms']} ms, "
        f"max {compiled['max_ms']} ms ({compiled['slowest']}; the first also parses the layout: "
        f"{compiled['first_ms']} ms)"
    )
    print(
        f"render:  {rendered['emails']:,} personalized {rendered['template']} emails over "
        f"{rendered['locales']} locales: {rendered['emails_per_s']:,}/s "
        f"({rendered['us_per_email']} µs each; HTML {rendered['html_bytes']:,} B, "
        f"text {rendered['text_bytes']:,} B)"
    )
    print(
        f"         with the MIME message built and serialized: "
        f"{rendered['emails_with_mime_per_s']:,}/s"
    )
    if rendered["push_per_s"]:
        print(f"push:    {rendered['push_per_s']:,}/s")
    goal = 5000
    print(f"goal {goal:,}/s: {'met' if rendered['emails_per_s'] >= goal else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
