"""What the command line accepts, read from the argparse parser, for the completion scripts.

The parser stays the one description of the command line: a new option or command shows
up in every shell's completion with nothing else to change. What argparse cannot say,
the values an option takes, a command's registration marks with `complete_with`.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    """What a value is completed with."""

    NONE = "none"  # free text: nothing to offer
    WORDS = "words"  # the option's `values` (a fixed set, or examples)
    FILE = "file"  # a path
    PIPELINE = "pipeline"  # a pipeline of the config: `__complete pipelines`


_MARK = "kondado_completion"  # the attribute complete_with sets on an argparse action
_PATH_METAVARS = frozenset({"PATH", "FILE"})


def complete_with(
    action: argparse.Action, kind: Kind, values: Iterable[str] = ()
) -> argparse.Action:
    """Mark what `action`'s value completes with (returns it, to wrap `add_argument`)."""
    setattr(action, _MARK, (kind, tuple(values)))
    return action


@dataclass(frozen=True)
class Value:
    kind: Kind = Kind.NONE
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]  # "--config", "-y", ...
    help: str
    value: Value | None  # None: a flag, which takes no value


@dataclass(frozen=True)
class Command:
    name: str  # "" for the words before any command
    help: str
    options: tuple[Option, ...]
    positionals: tuple[Value, ...]  # one per slot, in order
    repeats: bool  # the last slot takes any number of values (nargs * or +)


@dataclass(frozen=True)
class Spec:
    prog: str
    top: Command  # the options before the command
    commands: tuple[Command, ...]

    def value_options(self) -> tuple[str, ...]:
        """Every option string that takes a value, in any command: the scripts skip the
        word after it when they look for the command and count positionals."""
        found = {
            flag
            for command in (self.top, *self.commands)
            for option in command.options
            if option.value is not None
            for flag in option.flags
        }
        return tuple(sorted(found))


def _value(action: argparse.Action) -> Value:
    marked = getattr(action, _MARK, None)
    if marked is not None:
        return Value(*marked)
    if action.choices is not None:
        return Value(Kind.WORDS, tuple(str(c) for c in action.choices))
    if action.metavar in _PATH_METAVARS:
        return Value(Kind.FILE)
    return Value()


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help or action.help == argparse.SUPPRESS:
        return ""
    text = parser._get_formatter()._expand_help(action)  # %(default)s and friends
    return " ".join(text.split())


def _command(name: str, help_text: str, parser: argparse.ArgumentParser) -> Command:
    options: list[Option] = []
    positionals: list[Value] = []
    repeats = False
    for action in parser._actions:  # argparse has no public list of its actions
        if isinstance(action, argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            takes = action.nargs != 0
            options.append(
                Option(
                    tuple(action.option_strings),
                    _help(parser, action),
                    _value(action) if takes else None,
                )
            )
        else:
            positionals.append(_value(action))
            repeats = action.nargs in ("*", "+", argparse.REMAINDER)
    return Command(name, help_text, tuple(options), tuple(positionals), repeats)


def read_parser(parser: argparse.ArgumentParser) -> Spec:
    """The spec of `parser` (the `kondado-tui` parser, or any with one level of commands)."""
    commands: list[Command] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if name in helps:  # a command added with help=SUPPRESS has no entry: hidden
                    commands.append(_command(name, " ".join(helps[name].split()), sub))
    return Spec(parser.prog, _command("", "", parser), tuple(commands))
