"""A self-contained HTML page of search results: the query at the top, then each image's thumbnail (inline, as a
data: URI), key, score and top words. It opens from disk without a server."""

import base64
import html


def gallery_html(query: str, hits: list[dict]) -> str:
    """hits: {"key", "score", "words", "thumbnail" (JPEG bytes)} in rank order."""
    cards = []
    for rank, hit in enumerate(hits, start=1):
        image = (
            f'<img alt="{html.escape(hit["key"])}" src="data:image/jpeg;base64,'
            f'{base64.b64encode(hit["thumbnail"]).decode("ascii")}">'
            if hit["thumbnail"]
            else '<div class="missing">no thumbnail</div>'
        )
        cards.append(
            f'<figure class="hit">{image}<figcaption><b>{rank}.</b> {html.escape(hit["key"])}<br>'
            f"score {hit['score']:.3f}<br><i>{html.escape(', '.join(hit['words'][:5]))}</i></figcaption></figure>"
        )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>wsl-search: {html.escape(query)}</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
.hits {{ display: flex; flex-wrap: wrap; gap: 12px; }}
.hit {{ width: 160px; margin: 0; }}
.hit img {{ width: 128px; height: 128px; object-fit: contain; background: #eee; }}
.missing {{ width: 128px; height: 128px; background: #ddd; }}
figcaption {{ font-size: 12px; overflow-wrap: anywhere; }}
</style>
</head>
<body>
<h1>{html.escape(query)}</h1>
<p>{len(hits)} images</p>
<div class="hits">
{chr(10).join(cards)}
</div>
</body>
</html>
"""
