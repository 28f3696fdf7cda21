"""What every wsl_tf command shares: short help, a quiet TensorFlow start, one-line errors for bad flags."""

import contextlib
import difflib
import importlib.util
import os
import sys
import tempfile

from absl import app, flags


HELP_FLAGS = ("-h", "--help", "--helpshort", "-?")


def prepare_environment() -> None:
    """oneDNN on (1.5-1.65x faster convnets on these CPUs) and TensorFlow imported without its start-up lines.

    TensorFlow's C++ log is kept to fatal errors (TF_CPP_MIN_LOG_LEVEL=3): its
    start-up notices, the CPU feature banner, GeneratorDataset warnings and a
    spurious "NodeDef mentions attribute" error are noise to a user; Python
    errors still surface as exceptions. Worker processes inherit the setting.
    A TF_ENABLE_ONEDNN_OPTS or TF_CPP_MIN_LOG_LEVEL the user set wins, and a
    level of 0 or 1 also shows the import banner.
    """
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    wants_logs = os.environ.get("TF_CPP_MIN_LOG_LEVEL") in ("0", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # The oneDNN notice is written by C++ straight to file descriptor 2, whatever the log level.
    with tempfile.TemporaryFile() as captured, _stderr_to(captured, wanted=not wants_logs):
        try:
            importlib.import_module("tensorflow")
        except BaseException:
            captured.seek(0)
            sys.__stderr__.write(captured.read().decode(errors="replace"))
            raise


@contextlib.contextmanager
def _stderr_to(handle, wanted=True):
    if not wanted:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(handle.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _flat_keys(config, prefix="") -> list[str]:
    keys = []
    for key, value in config.items():
        path = f"{prefix}{key}"
        keys.append(path)
        if hasattr(value, "items"):
            keys.extend(_flat_keys(value, path + "."))
    return keys


def _load_config_file(spec: str):
    """get_config() of a `path[:argument]` config file, or raise ValueError naming the problem."""
    path, _, argument = spec.partition(":")
    if not os.path.isfile(path):
        raise ValueError(f"--config={spec}: no such file {path!r}")
    module_spec = importlib.util.spec_from_file_location("wsl_config", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
        return module.get_config(argument) if argument else module.get_config()
    except Exception as error:  # A user's file may fail in any way: report it in one line.
        raise ValueError(f"--config={spec}: {path} does not load: {type(error).__name__}: {error}") from None


def config_problem(argv, flag: str = "config") -> str | None:
    """The first problem with --config and its --config.KEY=VALUE overrides in argv, or None."""
    given = [a.split("=", 1)[1] for a in argv[1:] if a.startswith(f"--{flag}=")]
    spec = given[-1] if given else None  # As absl does, the last one wins.
    if spec is None:
        default = flags.FLAGS[flag].default_as_str if flag in flags.FLAGS else None
        spec = default.strip("'\"") if default else None
    if not spec:
        return None
    try:
        config = _load_config_file(spec)
    except ValueError as error:
        return str(error)
    known = _flat_keys(config)
    for argument in argv[1:]:
        if not argument.startswith(f"--{flag}."):
            continue
        key = argument[len(f"--{flag}."):].split("=", 1)[0]
        if key not in known:
            close = _closest(key, known)
            hint = f"; did you mean --{flag}.{close}?" if close else ""
            return f"--{flag}.{key}: no such key in {spec}{hint}"
    return None


def _closest(key: str, known: list[str]) -> str | None:
    """The known key most like `key`: same section first, a shared start counting extra."""
    section, _, leaf = key.rpartition(".")
    siblings = [k for k in known if k.rpartition(".")[0] == section] or known

    def score(candidate):
        name = candidate.rpartition(".")[2]
        shared_start = len(os.path.commonprefix([name, leaf])) >= 3
        return difflib.SequenceMatcher(None, leaf, name).ratio() + (0.2 if shared_start else 0.0)

    best = max(siblings, key=score, default=None)
    return best if best is not None and score(best) >= 0.5 else None


def command_help(main) -> str:
    """The command's docstring and its own flags: what --help prints (absl's --helpfull has the rest)."""
    module = sys.modules[main.__module__]
    key = sys.argv[0] if main.__module__ == "__main__" else main.__module__
    own = flags.FLAGS.module_help(key).strip().split("\n", 1)[-1] if key in flags.FLAGS.flags_by_module_dict() else ""
    return (f"{(module.__doc__ or '').strip()}\n\nFlags:\n{own}\n\n"
            "--helpfull lists absl's own flags too.").replace("\n\n\n", "\n\n")


def run(main, program: str, uses_tensorflow: bool = True) -> None:
    """app.run(main) with short --help, and flag or config errors in one line on stderr (exit status 2).

    TensorFlow is prepared (prepare_environment) only after the flags parse,
    so --help and a bad flag answer at once and print no banner.
    """

    def parse(argv):
        if any(argument in HELP_FLAGS for argument in argv[1:]):
            print(command_help(main))
            sys.exit(0)
        problem = config_problem(argv)
        if problem is None:
            try:
                parsed = flags.FLAGS(argv)
            except flags.Error as error:
                problem = str(error)
            else:
                if uses_tensorflow:
                    prepare_environment()
                return parsed
        print(f"{program}: error: {problem.splitlines()[-1] if problem else problem}", file=sys.stderr)
        sys.exit(2)

    app.run(main, flags_parser=parse)
