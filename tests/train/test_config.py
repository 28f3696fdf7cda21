"""Every config in configs/ loads and says what its name says."""

import glob
import importlib.util
import os

import pytest

from wsl_tf.train.config import check

CONFIGS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "..", "configs", "*.py")))


def load(path):
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


@pytest.mark.parametrize("path", [p for p in CONFIGS if os.path.basename(p).startswith(("alexnet", "googlenet"))],
                         ids=os.path.basename)
def test_paper_run_configs(path):
    name = os.path.basename(path)[:-3]
    config = load(path)
    model, k = name.split("_")[:2]
    assert config.model.name == model and config.model.num_words == int(k[1:].replace("k", "000"))
    assert (config.train.batch_size_per_replica, config.optimizer.learning_rate, config.optimizer.name) == (128, 0.1, "easgd")
    assert (config.model.image_size, config.input.crop_size, config.input.resize_size) == (224, 224, 256)
    assert (config.schedule.min_epochs_per_lr, config.schedule.min_lr, config.train.epoch_size) == (10, 1e-6, 10**6)
    if name.endswith("_ova"):
        assert (config.loss, config.input.sampler, config.input.labels) == ("one_vs_all", "natural", "all_words")
    else:
        assert (config.loss, config.input.sampler, config.input.labels) == ("softmax", "uniform_per_word", "sampled_word")
    check(config, {"vocab_size": config.model.num_words})


def test_every_config_file_loads():
    names = [os.path.basename(p) for p in CONFIGS]
    assert {"alexnet_k1000.py", "alexnet_k100000.py", "googlenet_k10000.py", "alexnet_k1000_ova.py",
            "cpu_small.py", "demo.py"} <= set(names)
    for path in CONFIGS:
        assert load(path) is not None
