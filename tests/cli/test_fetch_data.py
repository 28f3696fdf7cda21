"""wsl-fetch-data: lists the corpora and their cache state, fetches through apt-get (a stand-in here), and names an
unknown corpus or a failed fetch in one line."""

from data_tools import corpora
from tests.helpers import run_command
from wsl_tf.cli import fetch_data as fetch


def tiny_corpus(monkeypatch, package="tiny-corpus"):
    monkeypatch.setitem(
        corpora.CORPORA, "tiny", corpora.Corpus("tiny", "a test corpus", "usr/share/tiny", debian=(package,))
    )


def test_wsl_fetch_data_lists_and_fetches_and_names_an_unknown_corpus(fake_apt, monkeypatch, tmp_path, capsys):
    tiny_corpus(monkeypatch)
    assert run_command(fetch, "--list") == 0
    listed = capsys.readouterr().out
    assert "tiny           not fetched  a test corpus" in listed and "tuxpaint " in listed
    assert run_command(fetch, "--corpora=tiny") == 0
    assert capsys.readouterr().out.splitlines()[-1] == str(tmp_path / "cache" / "tiny" / "usr" / "share" / "tiny")
    assert run_command(fetch, "--list") == 0
    assert "tiny           fetched      a test corpus" in capsys.readouterr().out
    assert run_command(fetch, "--corpora=tiny,bogus") == 2
    assert capsys.readouterr().err == (
        "wsl-fetch-data: error: --corpora: unknown bogus; known: " + ", ".join(corpora.CORPORA) + "\n"
    )


def test_a_fetch_that_fails_is_one_line_and_exit_1_and_leaves_the_corpus_unfetched(fake_apt, monkeypatch, capsys):
    tiny_corpus(monkeypatch, package="wsl-tf-no-such-package")
    assert run_command(fetch, "--corpora=tiny") == 1
    lines = [line for line in capsys.readouterr().err.split("\n") if "wsl-fetch-data" in line]  # Past the bar.
    assert len(lines) == 1 and "wsl-fetch-data: error: apt-get download wsl-tf-no-such-package" in lines[0]
    assert "Unable to locate package" in lines[0]
    assert not corpora.is_fetched("tiny")


def test_stray_arguments_are_a_usage_error(capsys):
    assert run_command(fetch, "tuxpaint") != 0
    assert "unexpected arguments: tuxpaint" in capsys.readouterr().err
