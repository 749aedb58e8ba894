"""write_html_report: one self-contained file, rendered by headless Chromium in the test."""

import pathlib

import numpy as np
import pandas as pd
import pytest

from keras_remediation.evaluation import write_html_report
from html_testlib import rendered_dom
from html_testlib import rendered_image_widths
from html_testlib import require_chromium


def _png(path, width=120):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width / 50, 1), dpi=50)
    FigureCanvasAgg(figure)
    figure.add_subplot().plot([0, 1], [1, 0])
    figure.savefig(path)
    return pathlib.Path(path)


def test_report_renders_in_chromium_with_tables_and_embedded_figures(tmp_path):
    require_chromium()
    table = pd.DataFrame({"fpr": [0.0671, np.nan]}, index=pd.Index(["Female", "Male"],
                                                                    name="group"))
    image = _png(tmp_path / "figure.png")
    path = write_html_report(
        tmp_path / "out" / "report.html", "Gaps <before> & after",
        [("Headline", ["FPR gap 0.067 -> 0.020", table]), ("Figures", [image])],
    )
    image.unlink()  # the report must not need the image file any more
    text = pathlib.Path(path).read_text()
    assert "src=\"data:image/png;base64," in text and "http" not in text.split("<body>")[1]
    dom = rendered_dom(path)
    assert "<h1>Gaps &lt;before&gt; &amp; after</h1>" in dom
    assert "FPR gap 0.067 -&gt; 0.020" in dom
    assert "<td>0.067</td>" in dom and "<td>n/a</td>" in dom and "Female" in dom
    assert rendered_image_widths(dom) == [120]


def test_bad_blocks_raise():
    with pytest.raises(TypeError, match="each block must be"):
        write_html_report("unused.html", "t", [("h", [42])])
    with pytest.raises(ValueError, match="an image block must be"):
        write_html_report("unused.html", "t", [("h", [pathlib.Path("x.gif")])])
    with pytest.raises(TypeError, match="`sections` must hold"):
        write_html_report("unused.html", "t", ["h"])
    with pytest.raises(ValueError, match="`digits`"):
        write_html_report("unused.html", "t", [], digits=-1)
