"""PDF rendering shared by payment receipts and certificates (DESIGN.md §8, §9).

WeasyPrint renders only our own templates, and its URL fetcher fetches nothing from outside: it
serves ``data:`` URLs and files inside the template folder, and refuses everything else (http,
https, ftp, files elsewhere), so neither a template nor text that slipped into one can make the
renderer open a network connection or read a file such as ``/etc/passwd``. A refused image or
attachment is left out and logged by WeasyPrint; a refused stylesheet fails the render.

Fonts come from the machine (``fonts-dejavu-core``, see deploy/dev/system-packages.sh), never from
the web: templates name ``"DejaVu Sans"``, which also has the rupee sign.
"""
from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.request import DataHandler, Request, url2pathname

import eventlet.patcher
import segno
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from weasyprint import CSS, HTML
from weasyprint.text.ffi import ffi as _pango_ffi
from weasyprint.urls import URLFetcher, URLFetcherResponse


class FetchRefused(ValueError):
    """The renderer was asked for a resource it may not read."""


class GuardedURLFetcher(URLFetcher):
    """Serves ``data:`` URLs and regular files under ``base_dir``; refuses everything else."""

    def __init__(self, base_dir: Path | None = None):
        super().__init__()  # fetch() below replaces the parent's urllib opener entirely
        self.base_dir = base_dir.resolve() if base_dir is not None else None

    def fetch(self, url, headers=None):
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "data":
            # Decoded in memory by urllib's handler alone: no opener, so no proxy or other scheme.
            response = DataHandler().data_open(Request(url))
            return URLFetcherResponse(url, response.read(), response.headers)
        if scheme == "file" and self.base_dir is not None and parts.netloc in ("", "localhost"):
            # resolve() follows symlinks and folds "..", so both must still land inside base_dir.
            path = Path(url2pathname(parts.path)).resolve()
            if path.is_relative_to(self.base_dir) and path.is_file():
                mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": mime})
        raise FetchRefused(f"the PDF renderer may not fetch {url[:200]!r}")


def render_pdf(html: str, base_dir: Path | None = None,
               stylesheets: list[str] | None = None) -> bytes:
    """PDF bytes of ``html``. Relative URLs and ``stylesheets`` (file names) resolve in ``base_dir``.

    CPU-bound (hundreds of ms): from a nameko service call it through
    ``chassis.offloading.in_worker_process``.
    """
    fetcher = GuardedURLFetcher(base_dir)
    base_url = fetcher.base_dir.as_uri() + "/" if fetcher.base_dir is not None else None
    if stylesheets and base_url is None:
        raise ValueError("stylesheets need a base_dir to be read from")
    css = [CSS(url=urljoin(base_url, name), url_fetcher=fetcher) for name in stylesheets or ()]
    return HTML(string=html, base_url=base_url, url_fetcher=fetcher).write_pdf(stylesheets=css)


# cffi's FFI made its lock at import, after monkey patching: a green lock, which two tpool
# threads calling Pango at once deadlock on ("Cannot switch to a different thread"). Services
# render in their worker process, but a render offloaded to threads must not hang either.
_pango_ffi._lock = eventlet.patcher.original("_thread").allocate_lock()


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
    return Environment(loader=FileSystemLoader(str(folder)),
                       autoescape=select_autoescape(("html", "htm", "xml", "svg")),
                       undefined=StrictUndefined)
