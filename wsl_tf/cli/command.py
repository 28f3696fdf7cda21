"""What every command shares: short help, a quiet TensorFlow start, one-line errors for bad flags and a full disk.

Used by every command of wsl_tf/cli. A config installed with the package can be named alone
(`--config=cpu_small.py`, `--config=paper.py:alexnet,k=1000`) when no such
file exists where the command runs.
"""

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


def installed_configs_dir() -> str:
    """Where the package's configs are installed (wsl_tf.configs, from configs/)."""
    from wsl_tf import configs

    return os.path.dirname(configs.__file__)


def installed_config(name: str) -> str:
    """The path of an installed config file (`paper.py`)."""
    return os.path.join(installed_configs_dir(), name)


def installed_configs() -> list[str]:
    return sorted(n for n in os.listdir(installed_configs_dir()) if n.endswith(".py") and not n.startswith("_"))


def resolve_config(spec: str) -> str:
    """`path[:argument]` as given if the file exists, else the installed config of that name (`paper.py:k=1000`)."""
    path, colon, argument = spec.partition(":")
    if os.path.isfile(path) or os.path.dirname(path):
        return spec
    installed = os.path.join(installed_configs_dir(), path if path.endswith(".py") else f"{path}.py")
    return f"{installed}{colon}{argument}" if os.path.isfile(installed) else spec


def resolve_config_flags(argv: list[str], flag: str = "config") -> list[str]:
    """argv with each --config=SPEC resolved by resolve_config."""
    prefix = f"--{flag}="
    return [prefix + resolve_config(a[len(prefix) :]) if a.startswith(prefix) else a for a in argv]


def _load_config_file(spec: str):
    """get_config() of a `path[:argument]` config file, or raise ValueError naming the problem."""
    path, _, argument = resolve_config(spec).partition(":")
    if not os.path.isfile(path):
        raise ValueError(
            f"--config={spec}: no such file {path!r}, and no installed config of that name "
            f"(installed: {', '.join(installed_configs())})"
        )
    module_spec = importlib.util.spec_from_file_location("wsl_config", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
        return module.get_config(argument) if argument else module.get_config()
    except Exception as error:  # A user's file may fail in any way: report it in one line.
        raise ValueError(f"--config={spec}: {path} does not load: {type(error).__name__}: {error}") from None


def config_problem(argv, flag_values: flags.FlagValues, flag: str = "config") -> str | None:
    """The first problem with --config and its --config.KEY=VALUE overrides in argv, or None."""
    given = [a.split("=", 1)[1] for a in argv[1:] if a.startswith(f"--{flag}=")]
    spec = given[-1] if given else None  # As absl does, the last one wins.
    if spec is None and flag in flag_values and flag_values[flag].default is not None:
        spec = flag_values[flag].default_as_str.strip("'\"")
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
        key = argument[len(f"--{flag}.") :].split("=", 1)[0]
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


def command_help(main, flag_values: flags.FlagValues) -> str:
    """The command's docstring and its own flags: what --help prints (absl's --helpfull has the rest)."""
    module = sys.modules[main.__module__]
    own = "\n".join(
        line for line in flag_values.get_help(include_special_flags=False).splitlines() if line.startswith(" ")
    )
    return (f"{(module.__doc__ or '').strip()}\n\nFlags:\n{own}\n\n--helpfull lists absl's own flags too.").replace(
        "\n\n\n", "\n\n"
    )


def _parse_afresh(flag_values: flags.FlagValues, argv: list[str]) -> list[str]:
    """flag_values parsed from argv alone, with absl's own flags (logging, --helpfull) alongside.

    Every run starts from the defaults: a config file flag's --config.KEY
    overrides are defined anew by parsing --config (ml_collections defines
    them when it reads the file, from sys.argv), so a command run twice in
    one process (tests) neither keeps the last run's values nor defines a
    flag twice.
    """
    for name in flags.FLAGS:
        if flags.FLAGS[name].name == name and name not in flag_values:  # Short names come along.
            flag_values[name] = flags.FLAGS[name]
    for name in [n for n in flag_values if "." in n]:
        delattr(flag_values, name)
    flag_values.unparse_flags()
    parsed = flag_values(argv)
    flags.FLAGS.mark_as_parsed()
    return parsed


def run(
    main,
    program: str,
    flag_values: flags.FlagValues,
    uses_tensorflow: bool = True,
    default_config: str | None = None,
    disk_hint: str = "",
) -> None:
    """app.run(main) with short --help, and flag or config errors in one line on stderr (exit status 2).

    default_config: the --config a command uses when none is given. It is
    given here rather than as the flag's default, which ml_collections would
    read (and check the overrides against) when the module is imported, where
    a bad --config.KEY would end in a traceback instead of one line.

    flag_values: the command's own flags, kept apart from absl's global ones
    so that several commands' modules can be imported in one process (tests
    call their `main`s); absl's flags join them only here, in the command's
    own process. TensorFlow is prepared (prepare_environment) only after the
    flags parse, so --help and a bad flag answer at once and print no banner.
    Errors a user can fix, and a full disk, end in one line (one_line_errors).
    """

    def parse(argv):
        if any(argument in HELP_FLAGS for argument in argv[1:]):
            print(command_help(main, flag_values))
            sys.exit(0)
        if default_config and not any(a == "--config" or a.startswith("--config=") for a in argv[1:]):
            argv = [argv[0], f"--config={default_config}", *argv[1:]]
        argv = resolve_config_flags(argv)
        problem = config_problem(argv, flag_values)
        if problem is None:
            try:
                parsed = _parse_afresh(flag_values, argv)
            except flags.Error as error:
                problem = str(error)
            else:
                if uses_tensorflow:
                    prepare_environment()
                return parsed
        print(f"{program}: error: {problem.splitlines()[-1] if problem else problem}", file=sys.stderr)
        sys.exit(2)

    app.run(one_line_errors(main, program, disk_hint), flags_parser=parse)


def one_line_errors(main, program: str, disk_hint: str = ""):
    """main with what a user can fix said in one line (exit status 1) instead of a traceback.

    A UserError (wsl_tf/errors.py: a bad setting, a missing or damaged file,
    a corpus that cannot be had) is printed as it is. A full disk is said the
    same way whichever layer met it (an OSError or a TensorFlow error):
    every command writes through temporary names and renames, so what the
    disk stopped was never committed, and rerunning the same command once
    there is space again goes on from its last complete step; disk_hint adds
    how much a command needs. Any other error is a bug and keeps its
    traceback.
    """
    from wsl_tf import fileio
    from wsl_tf.errors import UserError

    def guarded(argv):
        try:
            return main(argv)
        except UserError as error:
            print(f"{program}: error: {error}", file=sys.stderr)
            return 1
        except Exception as error:  # noqa: BLE001 (a full disk surfaces as OSError or as a TensorFlow error)
            if not fileio.disk_full(error):
                raise
            print(
                f"{program}: error: no space left on the device ({fileio.error_line(error, limit=300)}). "
                f"Nothing half-written is kept: free some space{disk_hint}, then rerun the same command to go on "
                "from its last complete step",
                file=sys.stderr,
            )
            return 1

    return guarded
