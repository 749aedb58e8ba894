"""One self-contained HTML report: headings, paragraphs, pandas tables and embedded figures.

`write_html_report(path, title, sections)` writes a single HTML file with no external
resources: tables come from `pandas.DataFrame.to_html`, figures are embedded as base64 `data:`
URIs, so the file can be mailed or archived alone and opened in any browser.
"""

import base64
import html
import math
import os
import pathlib

__all__ = ["write_html_report"]

_IMAGE_TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg",
                ".jpeg": "image/jpeg"}

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; }
img { max-width: 100%; border: 1px solid #eee; }
p.note { color: #555; font-size: 0.9em; }
"""


def _block(block, digits):
    import pandas as pd

    if isinstance(block, pd.DataFrame):
        return block.to_html(
            float_format=lambda v: "n/a" if math.isnan(v) else f"{v:.{digits}f}",
            na_rep="n/a", border=0,
        )
    if isinstance(block, pathlib.PurePath):
        kind = _IMAGE_TYPES.get(block.suffix.lower())
        if kind is None:
            raise ValueError(
                f"an image block must be a {sorted(_IMAGE_TYPES)} file; received {str(block)!r}."
            )
        data = base64.b64encode(pathlib.Path(block).read_bytes()).decode("ascii")
        alt = html.escape(block.name)
        return f'<figure><img alt="{alt}" src="data:{kind};base64,{data}"></figure>'
    if isinstance(block, str):
        return f"<p>{html.escape(block)}</p>"
    raise TypeError(
        "each block must be a str (paragraph), a pandas.DataFrame (table) or a pathlib.Path "
        f"(image); received {type(block).__name__}."
    )


def write_html_report(path, title, sections, *, digits=3):
    """Writes one self-contained HTML file of titled sections.

    Args:
        path: str or path-like of the `.html` file; missing directories are created, an
            existing file is overwritten.
        title: str, the page title and top heading.
        sections: sequence of `(heading, blocks)` pairs: `heading` a str, `blocks` a sequence
            of a `str` (a paragraph, HTML-escaped), a `pandas.DataFrame` (a table, floats with
            `digits` decimals, NaN as "n/a") or a `pathlib.Path` to a `.png`, `.svg` or `.jpg`
            image (read now and embedded as a base64 `data:` URI).
        digits: keyword-only int ≥ 0, decimals of table floats. Default 3.

    Returns:
        The path written, as a `str`.

    Raises:
        TypeError: if a block is of another type, or `sections` is not a sequence of pairs.
        ValueError: if an image path has another extension, or `digits` is not an int ≥ 0.
        FileNotFoundError: if an image file is missing.
    """
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 0:
        raise ValueError(f"`digits` must be an int >= 0; received {digits!r}.")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for section in sections:
        if not isinstance(section, (tuple, list)) or len(section) != 2:
            raise TypeError(
                f"`sections` must hold (heading, blocks) pairs; received {section!r}."
            )
        heading, blocks = section
        parts.append(f"<section><h2>{html.escape(str(heading))}</h2>")
        parts.extend(_block(block, digits) for block in blocks)
        parts.append("</section>")
    parts.append("</body></html>")
    path = os.fspath(path)
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    return path
