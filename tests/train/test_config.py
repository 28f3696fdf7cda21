"""The training config's check: every setting that cannot work is named in one error, before any work."""

import pytest
from wsl_tf.configs import paper

from wsl_tf.errors import ConfigError
from wsl_tf.train import config as config_lib


def paper_config():
    config = paper.get_config("alexnet,k=1000")
    config.data.dir = "data/k1000"
    return config


def test_the_papers_config_has_no_problem_with_a_dataset_of_its_size():
    assert config_lib.problems(paper_config(), {"vocab_size": 1000}) == []
    config_lib.check(paper_config(), {"vocab_size": 1000})


def test_every_bad_setting_is_named_at_once():
    config = paper_config()
    config.loss = "hinge"
    config.head.negatives = -1
    config.input.sampler = "random"
    config.train.log_every_steps = 0
    found = config_lib.problems(config, {"vocab_size": 500})
    assert [line.split("=")[0].split(" ")[0] for line in found] == [
        "input.sampler",
        "input.labels",
        "loss",
        "head.negatives",
        "model.num_words",
        "train.log_every_steps",
    ]
    with pytest.raises(ConfigError) as raised:
        config_lib.check(config, {"vocab_size": 500})
    assert str(raised.value) == "; ".join(found) and "(500 words in data/k1000)" in str(raised.value)
