"""The search results page: one figure per hit in rank order, text escaped, thumbnails inline."""

import re

from wsl_tf.gallery import gallery_html


def test_each_hit_is_a_figure_in_rank_order_with_its_text_escaped():
    hits = [
        {"key": "a/<b>.jpg", "score": 1.5, "words": ["cat", "dog & co"], "thumbnail": b"\xff\xd8jpeg"},
        {"key": "c.png", "score": -0.25, "words": [], "thumbnail": b""},
    ]
    page = gallery_html("words: <cat>", hits)
    assert "<title>wsl-search: words: &lt;cat&gt;</title>" in page and "<h1>words: &lt;cat&gt;</h1>" in page
    figures = re.findall(r'<figure class="hit">(.*?)</figure>', page)
    assert len(figures) == 2 and "<b>1.</b> a/&lt;b&gt;.jpg" in figures[0] and "<b>2.</b> c.png" in figures[1]
    assert "score 1.500" in figures[0] and "dog &amp; co" in figures[0] and "score -0.250" in figures[1]
    assert 'src="data:image/jpeg;base64,/9hqcGVn"' in figures[0] and "no thumbnail" in figures[1]
