"""chassis.pdf: a renderer that fetches nothing from outside (architecture §9), QR, escaping."""

import base64
import http.server
import io
import re
import subprocess
import sys
import threading
import time
import urllib.parse

import jinja2
import pytest
import segno
import weasyprint
from PIL import Image

from services.chassis.pdf import qr_png_data_uri, render_pdf, template_environment
from services.chassis.pdf_engine import FetchRefused, GuardedURLFetcher


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, "PNG")
    return out.getvalue()


PNG = _png()


def _text(data: bytes) -> str:
    run = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True)
    return run.stdout.decode()


def _image_count(data: bytes) -> int:
    listing = subprocess.run(["pdfimages", "-list", "-"], input=data, capture_output=True, check=True)
    return len(listing.stdout.decode().splitlines()) - 2  # two header lines


@pytest.fixture
def web_server():
    """A local HTTP server that records every path asked of it and answers with a PNG."""
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def base_dir(tmp_path):
    base = tmp_path / "templates"
    base.mkdir()
    (base / "logo.png").write_bytes(PNG)
    (tmp_path / "outside.png").write_bytes(PNG)
    (base / "link.png").symlink_to(tmp_path / "outside.png")
    return base


def test_renders_a_pdf_that_pdfinfo_reads():
    data = render_pdf("<h1>Hello ₹</h1>")
    assert data.startswith(b"%PDF-")
    info = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True, check=True).stdout.decode()
    assert re.search(r"^Pages:\s+1$", info, re.M)
    assert "Hello ₹" in _text(data)


def test_http_image_is_not_fetched(web_server, monkeypatch):
    url, seen = web_server
    html = f'<p>x</p><img src="{url}/x.png">'
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    # Control: WeasyPrint's own fetcher does reach the server, so "no request" below means something.
    weasyprint.HTML(string=html).write_pdf()
    assert seen == ["/x.png"]
    seen.clear()

    data = render_pdf(html)
    time.sleep(0.1)  # let a request, had one been made, reach the server thread
    assert seen == []
    assert _image_count(data) == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x.png",
        "https://example.com/x.png",
        "ftp://example.com/x.png",
        "file:///etc/passwd",
        "file://localhost/etc/passwd",
        "file://otherhost/logo.png",
        "//example.com/x.png",
        "gopher://example.com/",
    ],
)
def test_everything_but_data_and_base_dir_files_is_refused(base_dir, url):
    with pytest.raises(FetchRefused):
        GuardedURLFetcher(base_dir).fetch(url)


def _attachments(data: bytes, tmp_path) -> str:
    (tmp_path / "a.pdf").write_bytes(data)  # pdfdetach does not read stdin
    return subprocess.run(
        ["pdfdetach", "-list", str(tmp_path / "a.pdf")], capture_output=True, check=True
    ).stdout.decode()


def test_etc_passwd_cannot_be_attached(base_dir, tmp_path):
    links = '<a rel="attachment" href="{0}">x</a><link rel="attachment" href="{0}">'

    def attached(url):
        return _attachments(render_pdf(links.format(url), base_dir=base_dir), tmp_path)

    # Control: an attachment from base_dir is embedded, so "0 embedded files" below means something.
    assert "1: logo.png" in attached("logo.png")
    assert "0 embedded files" in attached("file:///etc/passwd")


def test_file_inside_base_dir_is_served(base_dir):
    fetcher = GuardedURLFetcher(base_dir)
    response = fetcher.fetch((base_dir / "logo.png").as_uri())
    assert response.read() == PNG and response.content_type == "image/png"
    assert _image_count(render_pdf('<img src="logo.png">', base_dir=base_dir)) == 1


@pytest.mark.parametrize("name", ["../outside.png", "..%2Foutside.png", "sub/../../outside.png", "link.png"])
def test_escapes_from_base_dir_are_refused(base_dir, name):
    url = urllib.parse.urljoin(base_dir.as_uri() + "/", name)
    with pytest.raises(FetchRefused):
        GuardedURLFetcher(base_dir).fetch(url)
    assert _image_count(render_pdf(f'<img src="{name}">', base_dir=base_dir)) == 0


def test_nothing_local_is_served_without_base_dir(base_dir):
    with pytest.raises(FetchRefused):
        GuardedURLFetcher(None).fetch((base_dir / "logo.png").as_uri())


def test_stylesheets_come_from_base_dir_only(base_dir, tmp_path):
    (base_dir / "big.css").write_text("h1 { font-size: 40pt }")
    assert b"%PDF-" in render_pdf("<h1>x</h1>", base_dir=base_dir, stylesheets=["big.css"])[:8]
    (tmp_path / "evil.css").write_text("h1 { color: red }")
    with pytest.raises(weasyprint.urls.URLFetchingError):
        render_pdf("<h1>x</h1>", base_dir=base_dir, stylesheets=["../evil.css"])
    with pytest.raises(ValueError):
        render_pdf("<h1>x</h1>", stylesheets=["big.css"])


def test_the_stylesheets_of_one_folder_are_never_those_of_another(tmp_path):
    """Parsed stylesheets are reused, by folder and name: the same name elsewhere is its own."""
    for folder, size in (("small", 8), ("large", 40)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "style.css").write_text(f"p {{ font-size: {size}pt }}")
    sizes = []
    for folder in ("small", "large", "small"):
        pdf = render_pdf("<p>x</p>", base_dir=tmp_path / folder, stylesheets=["style.css"])
        fonts = subprocess.run(
            ["pdftotext", "-bbox", "-", "-"], input=pdf, capture_output=True, check=True
        ).stdout.decode()
        word = re.search(r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">x<', fonts)
        sizes.append(round(float(word[2]) - float(word[1])))
    assert sizes[0] == sizes[2] and sizes[1] > 3 * sizes[0], sizes


def test_a_service_process_does_not_load_weasyprint():
    """Services render in their worker process; WeasyPrint in the service process itself would
    only cost memory (about 32 MB each)."""
    script = (
        "import sys, services.certificate.service, services.payment.service; "
        "print(sorted(m for m in ('weasyprint', 'fontTools', 'PIL') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]", loaded


def test_data_uri_image_is_rendered():
    uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert _image_count(render_pdf(f'<img src="{uri}">')) == 1


def test_template_environment_escapes_user_text(tmp_path):
    (tmp_path / "t.html").write_text("<p>{{ name }}</p>")
    env = template_environment(tmp_path)
    html = env.get_template("t.html").render(name="<script>alert(1)</script><b>Bold</b> & Co")
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "&amp; Co" in html
    # Escaped markup reaches the PDF as the literal text the exporter typed.
    assert "<b>Bold</b> & Co" in _text(render_pdf(html))


def test_template_environment_rejects_undefined_variables(tmp_path):
    (tmp_path / "t.html").write_text("<p>{{ missing }}</p>")
    with pytest.raises(jinja2.UndefinedError):
        template_environment(tmp_path).get_template("t.html").render()


def test_qr_png_data_uri_is_the_qr_code_of_the_text_module_for_module():
    text = "https://coo.example/api/v1/verify?number=MPEDA/2026/013/0000001A"
    uri = qr_png_data_uri(text)
    prefix, _, payload = uri.partition(",")
    assert prefix == "data:image/png;base64"
    image = Image.open(io.BytesIO(base64.b64decode(payload))).convert("L")
    matrix = segno.make_qr(text, error="m").matrix  # a full QR code, never a Micro QR
    assert image.size == (4 * len(matrix), 4 * len(matrix))  # 4 pixels a module, no border
    for row, modules in enumerate(matrix):
        for col, dark in enumerate(modules):
            assert (image.getpixel((4 * col + 2, 4 * row + 2)) == 0) == bool(dark), (row, col)


def test_a_pixelated_qr_code_is_not_interpolated_in_the_pdf():
    uri = qr_png_data_uri("https://coo.example/api/v1/verify?number=X")
    data = render_pdf(f'<img src="{uri}" style="width: 30mm; image-rendering: pixelated">')
    assert data.startswith(b"%PDF-") and b"/Interpolate false" in data


def test_a_burst_of_offloaded_renders_all_finish():
    """Several workers rendering at once (a burst of approvals) once deadlocked on cffi's lock."""
    import eventlet

    from services.chassis.offloading import offload
    from services.chassis.pdf import render_pdf

    def render(i):
        return offload(render_pdf, f"<p>certificate {i}</p>" * 50)

    with eventlet.Timeout(120):
        pdfs = list(eventlet.GreenPool(6).imap(render, range(6)))
    assert all(pdf.startswith(b"%PDF-") for pdf in pdfs)
