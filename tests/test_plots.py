"""Static figure export: PNG and SVG drawn by kaleido's Chromium, which is told to reach nothing outside."""

import plotly.graph_objects as go
import pytest
from kaleido import PageGenerator

from esmaml_core.launcher import SYSTEM_CHROMIUM
from esmaml_core.plots import OFFLINE_KALEIDO, figure_image


def test_the_page_kaleido_draws_in_loads_only_local_files():
    """Kaleido's default page loads MathJax from a CDN; the export's loads plotly.js and its own script from disk."""
    assert "https://" in PageGenerator().generate_index()  # the default that fetched from cdnjs.cloudflare.com
    page = PageGenerator(mathjax=OFFLINE_KALEIDO["mathjax"]).generate_index()
    assert "http://" not in page and "https://" not in page and "file://" in page
    assert OFFLINE_KALEIDO["proxy_server"].startswith("127.0.0.1:")  # the browser's own requests stay here


@pytest.mark.skipif(not SYSTEM_CHROMIUM.exists(), reason="needs Debian's chromium (scripts/install.sh --dev)")
def test_figures_export_as_png_and_svg():
    figure = go.Figure(go.Scatter(x=[0, 1, 2], y=[1, 3, 2]), layout={"title": {"text": "post-adaptation return"}})
    png = figure_image(figure, "png", 300, 200, scale=1)
    assert png.startswith(b"\x89PNG") and int.from_bytes(png[16:20], "big") == 300  # the IHDR width
    assert b"post-adaptation return" in figure_image(figure, "svg", 300, 200)
