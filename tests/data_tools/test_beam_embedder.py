"""wsl-embed under Beam's DirectRunner writes the local job's index: the same shards of the same images, keys,
words and bad images, embeddings within 1e-5; a rerun after a lost shard embeds only that shard."""

import json
import os

import numpy as np
import pytest

from tests.helpers import image_bytes, run_command
from wsl_tf import collection
from wsl_tf.cli import embed


def write_collection(root):
    (root / "photos" / "more").mkdir(parents=True)
    for i in range(21):
        folder = root / "photos" / ("more" if i % 3 == 0 else "")
        (folder / f"{i:02d}.png").write_bytes(image_bytes(36, 28, fmt="PNG", seed=i))
    (root / "photos" / "broken.jpg").write_bytes(b"\xff\xd8 not an image")
    lines = [json.dumps({"image": f"photos/{i:02d}.png", "text": "x"}) for i in range(1, 21, 3)]
    lines.insert(2, json.dumps({"image": "photos/missing.png", "text": "gone"}))
    (root / "list.jsonl").write_text("\n".join(lines) + "\n")


def assert_same_index(beam_dir, local_dir):
    beam, local = collection.load_index(str(beam_dir)), collection.load_index(str(local_dir))
    assert beam.manifest == local.manifest
    assert beam.keys == local.keys and beam.valid.tolist() == local.valid.tolist()
    beam_details, local_details = beam.details(range(len(beam.keys))), local.details(range(len(local.keys)))
    assert [d["words"] for d in beam_details] == [d["words"] for d in local_details]
    assert [d["thumbnail"] for d in beam_details] == [d["thumbnail"] for d in local_details]
    np.testing.assert_allclose(beam.embeddings, local.embeddings, atol=1e-5, rtol=0)
    np.testing.assert_allclose(
        np.concatenate([np.array(d["scores"], float) for d in beam_details]),
        np.concatenate([np.array(d["scores"], float) for d in local_details]),
        atol=1e-5,
    )
    assert (beam_dir / collection.BAD).read_text() == (local_dir / collection.BAD).read_text()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["folder", "jsonl"])
def test_the_direct_runner_writes_the_local_jobs_index(tiny_run, tmp_path, kind, capsys):
    write_collection(tmp_path)
    source = tmp_path / ("photos" if kind == "folder" else "list.jsonl")
    common = [f"--model={tiny_run.export}", f"--input={source}", "--shard_size=4", "--batch_size=3", "--noprogress"]
    assert run_command(embed, *common, f"--output={tmp_path / 'local'}") == 0
    assert run_command(embed, *common, f"--output={tmp_path / 'beam'}", "--runner=DirectRunner") == 0
    assert_same_index(tmp_path / "beam", tmp_path / "local")
    manifest = json.loads((tmp_path / "beam" / collection.MANIFEST).read_text())
    assert manifest["bad_images"] == 1 and manifest["images"] == (22 if kind == "folder" else 8)
    # A shard lost (as a kill leaves it) and the manifest with it: the rerun embeds that shard only.
    os.remove(tmp_path / "beam" / collection.SHARD_PATTERN.format(1))
    os.remove(tmp_path / "beam" / collection.MANIFEST)
    capsys.readouterr()
    assert run_command(embed, *common, f"--output={tmp_path / 'beam'}", "--runner=DirectRunner") == 0
    said = capsys.readouterr().out.splitlines()
    assert said[0].endswith("finished earlier, 4 to embed"), said
    assert_same_index(tmp_path / "beam", tmp_path / "local")
