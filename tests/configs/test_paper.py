"""configs/: the paper's runs by argument, the CPU and demo configs, all light to load and checkable."""

import os
import subprocess
import sys

import pytest
from wsl_tf.configs import cpu_small, demo, paper

from wsl_tf.train.config import check

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize(
    "arg, model, k",
    [
        ("", "alexnet", 1000),
        ("alexnet,k=10000", "alexnet", 10000),
        ("googlenet,k=100000", "googlenet", 100000),
        ("k=1000,googlenet", "googlenet", 1000),
    ],
)
def test_the_papers_runs_by_argument(arg, model, k):
    config = paper.get_config(arg)
    assert (config.model.name, config.model.num_words) == (model, k)
    assert (config.train.batch_size_per_replica, config.optimizer.learning_rate, config.optimizer.name) == (
        128,
        0.1,
        "easgd",
    )
    assert (config.model.image_size, config.input.crop_size, config.input.resize_size) == (224, 224, 256)
    assert (config.schedule.min_epochs_per_lr, config.schedule.min_lr, config.train.epoch_size) == (10, 1e-6, 10**6)
    assert (config.loss, config.input.sampler, config.input.labels) == ("softmax", "uniform_per_word", "sampled_word")
    check(config, {"vocab_size": k})


def test_one_vs_all_reads_images_naturally_with_all_their_words():
    config = paper.get_config("alexnet,k=1000,loss=one_vs_all")
    assert (config.loss, config.input.sampler, config.input.labels) == ("one_vs_all", "natural", "all_words")
    check(config, {"vocab_size": 1000})


@pytest.mark.parametrize(
    "arg, complaint",
    [("resnet", "'resnet' is not a model"), ("k=ten", "invalid literal"), ("size=3", "unknown argument 'size'")],
)
def test_a_bad_argument_is_named(arg, complaint):
    with pytest.raises(ValueError, match=complaint):
        paper.get_config(arg)


def test_the_small_configs_are_checkable_variants_of_the_paper():
    small = cpu_small.get_config()
    assert (small.model.width, small.model.image_size, small.input.crop_size) == (0.125, 64, 64)
    check(small, {"vocab_size": small.model.num_words})
    run = demo.get_config().run
    assert run.train.logical_cpus == 2 and run.optimizer.name == "easgd"
    check(run, {"vocab_size": run.model.num_words})


@pytest.mark.slow
def test_loading_a_config_imports_no_tensorflow():
    code = (
        "import sys; from wsl_tf.configs import paper, cpu_small, demo; "
        "paper.get_config('googlenet'); cpu_small.get_config(); demo.get_config(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_every_key_including_tuples_is_overridable_on_the_command_line():
    """config_flags as wsl-train declares it: --config=FILE:ARG and --config.KEY=VALUE, tuples too."""
    code = """
import sys
from absl import flags
from ml_collections import config_flags
config_flags.DEFINE_config_file("config", None, "", lock_config=True)
flags.FLAGS(sys.argv)
c = flags.FLAGS.config
print(c.model.name, c.model.num_words, c.loss, c.train.devices, c.train.logical_cpus, c.optimizer.nesterov)
"""
    argv = [
        f"--config={REPO}/configs/paper.py:googlenet,k=10000,loss=one_vs_all",
        "--config.train.devices=('/cpu:0','/cpu:1')",
        "--config.train.logical_cpus=2",
        "--config.optimizer.nesterov=False",
    ]
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["googlenet", "10000", "one_vs_all", "('/cpu:0',", "'/cpu:1')", "2", "False"]
