"""WeasyPrint, behind ``chassis.pdf.render_pdf``: only processes that render import this module
(a service's worker process, the CLI, tests), so a service process never loads WeasyPrint,
fontTools and Pillow (about 32 MB of RSS each).

The URL fetcher fetches nothing from outside: it serves ``data:`` URLs and files inside the
template folder, and refuses everything else (http, https, ftp, files elsewhere), so neither a
template nor text that slipped into one can make the renderer open a network connection or read a
file such as ``/etc/passwd``. A refused image or attachment is left out and logged by WeasyPrint;
a refused stylesheet fails the render.
"""

from __future__ import annotations

import mimetypes
import threading
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.request import DataHandler, Request, url2pathname

import eventlet.patcher
from weasyprint import CSS, HTML
from weasyprint.text.ffi import ffi as _pango_ffi
from weasyprint.text.fonts import FontConfiguration
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


# What WeasyPrint can reuse from one PDF to the next of the same templates: the font
# configuration (loading fontconfig and its caches cost some 20 ms a render) and the parsed
# stylesheets. Kept per thread, because Pango's font map is not safe to share between threads
# rendering at once (services render in their worker process, one at a time, but a script may
# use threads). The templates are a handful, so the cache stays small.
_reusable = threading.local()


def _fonts_and_stylesheets(
    fetcher: GuardedURLFetcher, base_url: str | None, stylesheets: tuple[str, ...]
) -> tuple[FontConfiguration, list[CSS]]:
    cache = _reusable.__dict__.setdefault("by_templates", {})
    key = (fetcher.base_dir, stylesheets)
    if key not in cache:
        fonts = FontConfiguration()
        cache[key] = (
            fonts,
            [
                CSS(url=urljoin(base_url or "", name), url_fetcher=fetcher, font_config=fonts)
                for name in stylesheets
            ],
        )
    return cache[key]


def render(html: str, base_dir: Path | None, stylesheets: tuple[str, ...]) -> bytes:
    fetcher = GuardedURLFetcher(base_dir)
    base_url = fetcher.base_dir.as_uri() + "/" if fetcher.base_dir is not None else None
    if stylesheets and base_url is None:
        raise ValueError("stylesheets need a base_dir to be read from")
    fonts, css = _fonts_and_stylesheets(fetcher, base_url, stylesheets)
    return HTML(string=html, base_url=base_url, url_fetcher=fetcher).write_pdf(
        stylesheets=css, font_config=fonts
    )


# cffi's FFI made its lock at import, after monkey patching: a green lock, which two tpool
# threads calling Pango at once deadlock on ("Cannot switch to a different thread"). Services
# render in their worker process, but a render offloaded to threads must not hang either.
_pango_ffi._lock = eventlet.patcher.original("_thread").allocate_lock()
