import pytest

from hub.cli import COMMAND_MODULES, HOT_COMMANDS, build_parser, main


@pytest.mark.parametrize("command, module", sorted(HOT_COMMANDS.items()))
def test_hot_commands_live_where_the_map_says(command: str, module: str) -> None:
    assert module in COMMAND_MODULES
    parser = build_parser((module,))
    assert command in parser._subparsers._group_actions[0].choices  # noqa: SLF001


def test_every_command_module_loads() -> None:
    choices = build_parser()._subparsers._group_actions[0].choices  # noqa: SLF001
    assert {"validate", "package", "extract", "image", "site", "publish", "catalog", "portal"} <= set(choices)


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys) -> None:
    bad = tmp_path / "manifest.yaml"
    bad.write_text("name: [unclosed\n")
    assert main(["validate", str(bad)]) in (1, 2)
    err = capsys.readouterr()
    assert "Traceback" not in err.out + err.err
