"""Render an HTML report in headless Chromium (Debian's `chromium`) and read the rendered DOM.

`rendered_dom(path)` copies the report beside itself with a script that, once the page has
loaded, records each image's decoded width in `data-rendered-width`, runs
`chromium --headless --dump-dom` on it and returns the DOM text, so tests can assert that the
tables rendered and that Chromium decoded every embedded figure. Tests call
`require_chromium()` first: it skips them, with the reason, when the binary is absent.
"""

import os
import re
import shutil
import subprocess

import pytest

_PROBE = (
    "<script>window.addEventListener('load', function () {"
    "document.querySelectorAll('img').forEach(function (img) {"
    "img.setAttribute('data-rendered-width', String(img.naturalWidth)); });"
    "document.body.setAttribute('data-loaded', 'yes'); });</script>"
)


def chromium_binary():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium():
    if chromium_binary() is None:
        pytest.skip("headless Chromium is not installed (Debian package `chromium`): the "
                    "HTML report cannot be rendered")


def rendered_dom(path):
    """The DOM of `path` after Chromium loaded it (with the image probe), as a str."""
    path = os.fspath(path)
    probe_path = path[: -len(".html")] + ".probe.html"
    with open(path, encoding="utf-8") as f:
        text = f.read()
    assert "</body>" in text, f"{path} has no </body>"
    with open(probe_path, "w", encoding="utf-8") as f:
        f.write(text.replace("</body>", _PROBE + "</body>"))
    try:
        completed = subprocess.run(
            [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu",
             "--virtual-time-budget=5000", "--dump-dom", "file://" + os.path.abspath(probe_path)],
            capture_output=True, text=True, timeout=120,
        )
    finally:
        os.remove(probe_path)
    assert completed.returncode == 0, completed.stderr[-2000:]
    dom = completed.stdout
    assert 'data-loaded="yes"' in dom, "the page did not finish loading in Chromium"
    return dom


def rendered_image_widths(dom):
    """The decoded widths (pixels) of the DOM's images, in order."""
    return [int(w) for w in re.findall(r'data-rendered-width="(\d+)"', dom)]
