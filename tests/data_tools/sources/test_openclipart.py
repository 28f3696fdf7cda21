from data_tools.sources import base
from data_tools.sources.openclipart import OpenClipartSource, metadata_text

SVG = """<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
     xmlns:cc="http://web.resource.org/cc/" xmlns:dc="http://purl.org/dc/elements/1.1/" width="20" height="20">
  <metadata><rdf:RDF><cc:Work rdf:about="">
    <dc:title>Baby-Tux</dc:title>
    <dc:description>Made with Sodipodi</dc:description>
    <dc:subject><rdf:Bag><rdf:li>penguin</rdf:li><rdf:li>linux</rdf:li></rdf:Bag></dc:subject>
    <dc:publisher><cc:Agent><dc:title>Open Clip Art Library</dc:title></cc:Agent></dc:publisher>
  </cc:Work></rdf:RDF></metadata>
  <rect width="20" height="20" fill="#00f"/>
</svg>"""


def test_metadata_is_title_description_keywords_not_publisher():
    assert metadata_text(SVG.encode(), "x.svg") == "Baby-Tux\nMade with Sodipodi\npenguin\nlinux"


def test_the_authors_name_is_not_text():
    svg = SVG.replace(
        "<dc:description>Made with Sodipodi</dc:description>",
        "<dc:description>SVG Gradient Collection by Alan Horkan, 2004.</dc:description>"
        "<dc:creator><cc:Agent><dc:title>Alan Horkan</dc:title></cc:Agent></dc:creator>",
    )
    svg = svg.replace(
        "<rdf:li>linux</rdf:li>",
        "<rdf:li>linux</rdf:li><rdf:li>architetto francesco rollandin</rdf:li><rdf:li>HORKAN</rdf:li>",
    ).replace(
        "</cc:Work>",
        "<dc:rights><cc:Agent><dc:title>Francesco 'Architetto' Rollandin</dc:title></cc:Agent></dc:rights></cc:Work>",
    )
    assert metadata_text(svg.encode(), "x.svg") == ("Baby-Tux\nSVG Gradient Collection by , 2004.\npenguin\nlinux")


def test_png_render_is_preferred_and_svg_used_otherwise(tmp_path, write_image):
    (tmp_path / "svg/animals").mkdir(parents=True)
    (tmp_path / "svg/animals/tux.svg").write_text(SVG)
    (tmp_path / "svg/animals/bird.svg").write_text(SVG)
    (tmp_path / "svg/animals/broken.svg").write_text("<svg><unclosed></svg>")
    png = write_image("png/animals/tux.png", fmt="PNG")
    out = list(OpenClipartSource(str(tmp_path / "svg")).read())
    assert [r.key for r in out] == ["animals/bird", "animals/broken", "animals/tux"]
    assert out[0].image == SVG.encode()
    assert (out[1].reason, out[1].key) == (base.BAD_LINE, "animals/broken")
    assert out[2].image == open(png, "rb").read()
