"""The project's errors: every one a user can fix derives from UserError and from the built-in it refines, and a
command prints it in one line with exit status 1, while any other error keeps its traceback."""

import pytest

from data_tools.corpora import FetchError
from data_tools.preparation import PrepareError
from data_tools.sources.base import SourceError
from wsl_tf.cli.command import one_line_errors
from wsl_tf.collection import CollectionIndexError
from wsl_tf.errors import ConfigError, DataError, UserError
from wsl_tf.eval.run_evaluation import ResourceUnavailable
from wsl_tf.precision import NoLabelledImagesError
from wsl_tf.run_directory import RunDirectoryError
from wsl_tf.train.trainer import TrainingError
from wsl_tf.vocab import VocabularyError


@pytest.mark.parametrize(
    "error, builtin",
    [
        (ConfigError, ValueError),
        (DataError, ValueError),
        (VocabularyError, ValueError),
        (CollectionIndexError, ValueError),
        (NoLabelledImagesError, ValueError),
        (RunDirectoryError, ValueError),
        (PrepareError, ValueError),
        (SourceError, ValueError),
        (TrainingError, RuntimeError),
        (ResourceUnavailable, RuntimeError),
        (FetchError, RuntimeError),
    ],
)
def test_each_error_a_user_can_fix_is_a_user_error_and_its_builtin(error, builtin):
    assert issubclass(error, UserError) and issubclass(error, builtin)


def test_a_user_error_is_one_line_and_exit_1_and_a_bug_keeps_its_traceback(capsys):
    def bad_setting(argv):
        raise ConfigError("--config.train.batch_size_per_replica=0 must be >= 1")

    def bug(argv):
        raise KeyError("a bug")

    assert one_line_errors(bad_setting, "wsl-train")([]) == 1
    assert capsys.readouterr().err == "wsl-train: error: --config.train.batch_size_per_replica=0 must be >= 1\n"
    with pytest.raises(KeyError, match="a bug"):
        one_line_errors(bug, "wsl-train")([])
