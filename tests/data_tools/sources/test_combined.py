"""Two sources prepared as one: prefixed keys, every record and skip of each, counts added."""

import json

from data_tools import preparer
from data_tools.sources.combined import CombinedSource
from data_tools.sources.jsonl import JsonlSource


def jsonl(root, name, captions, write_image):
    lines = []
    for i, caption in enumerate(captions):
        write_image(f"{name}/{i}.jpg", seed=i)
        lines.append(json.dumps({"image": f"{i}.jpg", "text": caption, "key": f"k{i}"}))
    lines.append(json.dumps({"image": "missing.jpg", "text": "gone", "key": "lost"}))
    (root / name / "list.jsonl").write_text("\n".join(lines) + "\n")
    return JsonlSource(str(root / name / "list.jsonl"))


def test_records_of_both_sources_keep_their_text_under_prefixed_keys(tmp_path, write_image):
    first = jsonl(tmp_path, "a", ["red car", "blue sea"], write_image)
    second = jsonl(tmp_path, "b", ["red sun", "green tree", "blue car"], write_image)
    combined = CombinedSource([first, second])
    assert combined.count() == first.count() + second.count() == 7
    read = list(combined.read())
    records = {r.key: r.text for r in read if hasattr(r, "text")}
    skips = sorted(r.key for r in read if not hasattr(r, "text"))
    assert records == {
        "jsonl0/k0": "red car",
        "jsonl0/k1": "blue sea",
        "jsonl1/k0": "red sun",
        "jsonl1/k1": "green tree",
        "jsonl1/k2": "blue car",
    }
    assert skips == ["jsonl0/lost", "jsonl1/lost"]
    assert combined.describe()["sources"] == [first.describe(), second.describe()]


def test_a_combined_collection_prepares_with_the_records_of_both(tmp_path, write_image):
    combined = CombinedSource(
        [
            jsonl(tmp_path, "a", ["red car", "blue sea"] * 5, write_image),
            jsonl(tmp_path, "b", ["red sun", "green tree"] * 5, write_image),
        ]
    )
    options = preparer.PrepareOptions(
        output_dir=str(tmp_path / "out"),
        vocab_size=10,
        num_stopwords=0,
        image_size=16,
        num_shards=1,
        val_fraction=0.0,
        test_fraction=0.0,
        workers=0,
        progress=False,
    )
    metadata = preparer.DatasetPreparer(combined, options, log=lambda *_: None).run()
    assert metadata["images"]["train"] == 20 and metadata["skipped_total"] == 2
    assert (
        tmp_path / "out" / "vocab.tsv"
    ).read_text() == "red\t10\nblue\t5\ncar\t5\ngreen\t5\nsea\t5\nsun\t5\ntree\t5\n"


def test_a_slice_of_each_source(tmp_path):
    sources = []
    for name, count in (("a", 5), ("b", 3)):
        (tmp_path / name).mkdir()
        lines = "".join(
            json.dumps({"image": f"{i}.png", "text": "x", "key": f"{name}{i}"}) + "\n" for i in range(count)
        )
        (tmp_path / name / "list.jsonl").write_text(lines)
        sources.append(JsonlSource(str(tmp_path / name / "list.jsonl")))
    combined = CombinedSource(sources, max_items_each=2)
    assert [item.key for item in combined.scan()] == ["jsonl0/a0", "jsonl0/a1", "jsonl1/b0", "jsonl1/b1"]
    assert combined.count() == 4 and combined.describe()["max_items_each"] == 2
    assert CombinedSource(sources).count() == 8 and "max_items_each" not in CombinedSource(sources).describe()
