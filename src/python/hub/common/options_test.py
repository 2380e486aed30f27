"""hub.common.options: a command's parser from its run function, and the shared options."""

import argparse

from hub.common.options import MANIFESTS_HELP, add_command, add_manifests, add_timeout


def _subparsers() -> tuple[argparse.ArgumentParser, "argparse._SubParsersAction[argparse.ArgumentParser]"]:
    parser = argparse.ArgumentParser(prog="hub")
    return parser, parser.add_subparsers(dest="command", required=True)


def run_documented(args: argparse.Namespace) -> int:
    """do the thing to FILE

    Reads FILE and does the thing,
    twice.
    """
    return 0


def run_terse(args: argparse.Namespace) -> int:
    """do the other thing"""
    return 0


def test_the_help_texts_are_the_run_functions_docstring() -> None:
    parser, sub = _subparsers()
    p = add_command(sub, "thing", run_documented)
    assert p.description == "Reads FILE and does the thing, twice."
    assert sub._choices_actions[0].help == "do the thing to FILE"  # noqa: SLF001
    assert add_command(sub, "other", run_terse).description is None
    assert parser.parse_args(["thing"]).run is run_documented


def test_given_texts_win() -> None:
    _, sub = _subparsers()
    assert add_command(sub, "thing", run_documented, description="Computed.").description == "Computed."
    p = add_command(sub, "other", run_documented, help="computed help")
    assert p.description is None  # a computed help takes nothing from the docstring
    assert sub._choices_actions[1].help == "computed help"  # noqa: SLF001


def test_shared_options() -> None:
    parser, sub = _subparsers()
    add_manifests(add_command(sub, "positional", run_terse))
    add_manifests(add_command(sub, "option", run_terse), option=True)
    add_timeout(add_command(sub, "http", run_terse), 30.0)
    assert parser.parse_args(["positional", "a", "b"]).manifests == ["a", "b"]
    assert parser.parse_args(["option", "--manifests", "a"]).manifests == ["a"]
    assert parser.parse_args(["http"]).timeout == 30.0
    assert "per HTTP request (default 30)" in sub.choices["http"].format_help()
    assert MANIFESTS_HELP.split()[0] in sub.choices["option"].format_help()
