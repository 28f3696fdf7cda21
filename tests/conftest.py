"""Test-wide set-up: quiet TensorFlow, 4 logical CPUs, fresh collective keys; shared fixtures.

Logical devices can be configured only once per process, before TensorFlow
initialises its devices, so it is done here at import time; tests that need
two replicas use a MirroredStrategy over the first two.

Two speeds (markers in setup.cfg): the README's command runs the fast set,
`-m "not slow and not network"`; CI then runs `-m "slow or network"`. The
fast set reads its few real images from tests/data and shares one tiny
trained run (`tiny_run`) among every test that only reads a run.
"""

import dataclasses
import os
import subprocess

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tempfile  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

# TensorFlow's import writes its oneDNN notice straight to file descriptor 2, whatever the log level: kept off the
# terminal of a test worker process (pytest-xdist's workers are not captured), shown if the import fails.
with tempfile.TemporaryFile() as _notices:
    _saved = os.dup(2)
    os.dup2(_notices.fileno(), 2)
    try:
        import tensorflow as tf  # noqa: E402
    except BaseException:
        os.dup2(_saved, 2)
        _notices.seek(0)
        os.write(2, _notices.read())
        raise
    finally:
        os.dup2(_saved, 2)
        os.close(_saved)

from data_tools import corpora  # noqa: E402
from tests.helpers import image_bytes, prepare_jsonl_dataset  # noqa: E402

TEN_WORDS = ["sun", "sea", "tree", "dog", "cat", "car", "road", "sky", "hill", "boat"]

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(_cpus[0], [tf.config.LogicalDeviceConfiguration()] * 4)


@pytest.fixture(autouse=True)
def _fresh_collective_keys():
    """Each test's MirroredStrategy gets its own collective group keys.

    Collective all-reduces (MirroredStrategy's default on CPUs) number their
    groups from 1 in every strategy; a strategy over 4 devices after one over
    2 in the same process would join the old group. TensorFlow's own tests
    offset the keys the same way (the attribute exists for tests).
    """
    tf.distribute.MirroredStrategy._collective_key_base += 10_000
    yield


@pytest.fixture
def fake_apt(tmp_path, monkeypatch):
    """apt-get and apt-cache stand-ins on PATH: `download tiny-corpus` copies a real .deb built here (about 10 kB
    of incompressible bytes in /usr/share/tiny/data.bin), any other package is 'Unable to locate'."""
    package = tmp_path / "package"
    (package / "DEBIAN").mkdir(parents=True)
    (package / "DEBIAN" / "control").write_text(
        "Package: tiny-corpus\nVersion: 1.0\nArchitecture: all\n"
        "Maintainer: tests <t@example.org>\nDescription: a test corpus\n"
    )
    (package / "usr" / "share" / "tiny").mkdir(parents=True)
    (package / "usr" / "share" / "tiny" / "data.bin").write_bytes(np.random.default_rng(0).bytes(10_000))
    deb = tmp_path / "tiny-corpus_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--build", "-Zgzip", str(package), str(deb)], check=True, capture_output=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "apt-get").write_text(f"""#!/bin/sh
if [ "$1" = update ]; then exit 0; fi
if [ "$1" = download ] && [ "$2" = tiny-corpus ]; then cp {deb} .; exit 0; fi
echo "E: Unable to locate package $2" >&2; exit 100
""")
    (bin_dir / "apt-cache").write_text(f"#!/bin/sh\necho 'Package: tiny-corpus'\necho 'Size: {deb.stat().st_size}'\n")
    for tool in ("apt-get", "apt-cache"):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv(corpora.CACHE_ENV, str(tmp_path / "cache"))
    return deb


@pytest.fixture
def write_image(tmp_path):
    """write_image(relative path, **image_bytes kwargs) -> absolute path."""

    def write(relative: str, **kwargs) -> str:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(image_bytes(**kwargs))
        return str(path)

    return write


@pytest.fixture(scope="session")
def ten_word_dataset(tmp_path_factory) -> str:
    """300 random 40 px images captioned "photo" + 1-3 of TEN_WORDS (Zipf-like), prepared at 32 px in 3 shards.

    "photo" is the one stop word; 10% val, 10% test.
    """
    return prepare_jsonl_dataset(
        tmp_path_factory.mktemp("ten_words"),
        300,
        TEN_WORDS,
        image_px=40,
        prefix="photo ",
        probabilities=np.arange(10, 0, -1) / 55,
        vocab_size=20,
        num_stopwords=1,
        image_size=32,
        num_shards=3,
        val_fraction=0.1,
        test_fraction=0.1,
    )


TWELVE_WORDS = ["red", "blue", "green", "cat", "dog", "car", "tree", "sea", "sun", "hill", "road", "boat"]


@pytest.fixture(scope="session")
def twelve_word_dataset(tmp_path_factory) -> str:
    """240 random 64 px images, each captioned with some of TWELVE_WORDS, prepared at 64 px (for AlexNet runs)."""
    return prepare_jsonl_dataset(
        tmp_path_factory.mktemp("train_data"),
        240,
        TWELVE_WORDS,
        image_px=64,
        vocab_size=12,
        num_stopwords=0,
        image_size=64,
        num_shards=2,
        val_fraction=0.15,
        test_fraction=0.05,
    )


# Words that FreeDict pairs, Fashion-MNIST class names, an analogy and MEN pairs can all cover.
RUN_WORDS = [
    "cat",
    "dog",
    "chat",
    "chien",
    "sun",
    "soleil",
    "sea",
    "mer",
    "man",
    "woman",
    "king",
    "queen",
    "dress",
    "coat",
    "shirt",
    "bag",
    "boot",
    "car",
    "automobile",
    "sunlight",
]


@dataclasses.dataclass
class TinyRun:
    """A finished run, trained and exported as wsl-train does it (EASGD over 2 logical CPUs)."""

    workdir: str
    dataset: str
    config: object
    summary: dict
    epoch_ends: list  # (epoch index, sorted log keys) the callbacks received at each epoch's end.

    @property
    def export(self) -> str:
        return os.path.join(self.workdir, "export")


def tiny_run_config(dataset: str, **train):
    """A 1/8-width AlexNet at 64 px, EASGD over 2 logical CPUs: 2 epochs of 4 steps, a checkpoint every 2."""
    from wsl_tf.configs import paper

    config = paper.get_config(f"alexnet,k={len(RUN_WORDS)}")
    config.data.dir = dataset
    config.model.update({"image_size": 64, "width": 0.125})
    config.input.update({"resize_size": 64, "crop_size": 64, "block_size": 32})
    config.optimizer.update({"learning_rate": 0.05, "tau": 2})
    config.train.update(
        {
            "batch_size_per_replica": 8,
            "epoch_size": 64,
            "max_epochs": 2,
            "checkpoint_every_steps": 2,
            "devices": ("/cpu:0", "/cpu:1"),
            "export": True,
            **train,
        }
    )
    config.schedule.update({"min_epochs_per_lr": 1})
    config.eval.update({"val_images": 64, "batch_size": 32})
    return config


@pytest.fixture(scope="session")
def run_dataset(tmp_path_factory) -> str:
    """260 random 64 px images captioned with RUN_WORDS, keys filed under cats/ and dogs/ (for `categories`)."""
    return prepare_jsonl_dataset(
        tmp_path_factory.mktemp("run_data"),
        260,
        RUN_WORDS,
        image_px=64,
        vocab_size=len(RUN_WORDS),
        num_stopwords=0,
        image_size=64,
        num_shards=2,
        val_fraction=0.15,
        test_fraction=0.2,
        key=lambda i: f"{('cats', 'dogs')[i % 2]}/k{i}",
    )


@pytest.fixture(scope="session")
def tiny_run(run_dataset, tmp_path_factory) -> TinyRun:
    """The session's one trained run: trained and exported by wsl-train's own function, in this process."""
    import keras

    from wsl_tf.cli.train import train_and_export

    class EpochEnds(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_epoch_end(self, epoch, logs=None):
            self.seen.append((epoch, sorted(logs)))

    ends = EpochEnds()
    config = tiny_run_config(run_dataset)
    workdir = str(tmp_path_factory.mktemp("tiny_run") / "run")
    summary = train_and_export(config, workdir, log=lambda *_: None, callbacks=[ends])
    return TinyRun(workdir, run_dataset, config, summary, ends.seen)


@pytest.fixture
def word_layer():
    """A built WordLayer of 200 words over 16-d embeddings, with random biases (zero biases hide mistakes)."""
    import tensorflow as tf

    from wsl_tf.models import WordLayer

    layer = WordLayer(200)
    layer.build((None, 16))
    layer.bias.assign(tf.random.normal((200,)))
    return layer
