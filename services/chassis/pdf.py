"""PDF rendering shared by payment receipts and certificates (architecture §8, §9).

WeasyPrint renders only our own templates, and its URL fetcher fetches nothing from outside (see
``pdf_engine``, the WeasyPrint side, imported only where PDFs are drawn).

Fonts come from the machine (``fonts-dejavu-core``, see deploy/dev/system-packages.sh), never from
the web: templates name ``"DejaVu Sans"``, which also has the rupee sign.
"""

from __future__ import annotations

import threading
from pathlib import Path

import segno
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

_IMPORTING = threading.Lock()


def render_pdf(html: str, base_dir: Path | None = None, stylesheets: list[str] | None = None) -> bytes:
    """PDF bytes of ``html``. Relative URLs and ``stylesheets`` (file names) resolve in ``base_dir``;
    nothing is fetched from anywhere else (``pdf_engine.GuardedURLFetcher``). The fonts and the
    parsed stylesheets are reused by the next PDF of the same templates.

    CPU-bound (hundreds of ms): from a nameko service call it through
    ``chassis.offloading.in_worker_process``.
    """
    # Imported by the first render, so a service process, whose worker process renders, never
    # loads WeasyPrint; under a lock, since threads rendering at once would each see the module
    # half imported.
    with _IMPORTING:
        from services.chassis import pdf_engine

    return pdf_engine.render(html, base_dir, tuple(stylesheets or ()))


def qr_png_data_uri(text: str) -> str:
    """A QR code of ``text`` as a 1-bit PNG ``data:`` URI, 4 pixels a module and no quiet zone (the
    template pads it with white): CSS sizes it, with ``image-rendering: pixelated`` so that no
    viewer blurs its edges. A PNG rather than an SVG: WeasyPrint draws an SVG code module by
    module, which cost some 6 ms of a 150 ms certificate."""
    # make_qr, not make: segno would pick a Micro QR for short text, which many phones cannot read.
    return segno.make_qr(text, error="m").png_data_uri(scale=4, border=0)


def template_environment(folder: Path) -> Environment:
    """Jinja2 for PDF templates: HTML is autoescaped, so exporter-supplied text (names, addresses)
    is always text, never markup; an undefined variable fails the render instead of printing ''."""
    return Environment(
        loader=FileSystemLoader(str(folder)),
        autoescape=select_autoescape(("html", "htm", "xml", "svg")),
        undefined=StrictUndefined,
    )
