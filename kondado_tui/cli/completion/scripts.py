"""The completion scripts, written from a `Spec`: bash, zsh and fish.

Each script knows the commands and options as the parser had them when it was made, and
asks `PROG __complete pipelines` for the pipelines (with the `--config` typed on the
line, before or after the command). The same walk in each: skip `PROG`, skip the value
after an option that takes one (`--config PATH`, or `--config=PATH` in one word), the
first other word is the command, the rest are its positionals.

Nothing from the config is ever evaluated by a shell: bash gets digits only; zsh and
fish read lines into arrays (no word splitting, no globbing) and show names as
descriptions, cleaned by `candidates.py`.
"""

from __future__ import annotations

from collections.abc import Iterable

from kondado_tui import __version__
from kondado_tui.cli.completion.candidates import COMMAND
from kondado_tui.cli.completion.spec import Command, Kind, Option, Spec, Value

SHELLS = ("bash", "zsh", "fish")


def quote(text: str) -> str:
    """`text` as one single-quoted word for bash, zsh and fish alike (none of the three
    reads anything inside single quotes but the quote itself, closed and reopened;
    fish takes `\\'` inside them, the POSIX shells `'\\''`)."""
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _function(prog: str) -> str:
    return "_" + "".join(c if c.isalnum() else "_" for c in prog)


def _words(items: Iterable[str]) -> str:
    return " ".join(items)


def _case_arms(arms: Iterable[tuple[str, str]], indent: str) -> str:
    return "".join(f"{indent}{pattern}) {body} ;;\n" for pattern, body in arms)


def _scopes(spec: Spec) -> list[Command]:
    return [spec.top, *spec.commands]


def _value_arms(spec: Spec, action: dict[Kind, str]) -> list[tuple[str, str]]:
    """`cmd:--option` patterns (cmd empty before the command) and what completes them."""
    arms = []
    for command in _scopes(spec):
        for option in command.options:
            if option.value is None:
                continue
            body = _value_body(option.value, action)
            arms.append(("|".join(f"{quote(command.name + ':' + f)}" for f in option.flags), body))
    return arms


def _value_body(value: Value, action: dict[Kind, str]) -> str:
    if value.kind is Kind.WORDS:
        return action[Kind.WORDS].format(words=quote(_words(value.values)))
    return action[value.kind]


def _positional_arms(spec: Spec, action: dict[Kind, str]) -> list[tuple[str, str]]:
    """`cmd:N` patterns (N: the positional slot, `*` for a repeating last one)."""
    arms = []
    for command in spec.commands:
        for slot, value in enumerate(command.positionals):
            last = slot == len(command.positionals) - 1
            pattern = f"{command.name}:{slot}"
            if last and command.repeats:
                pattern = f"{command.name}:*"
            arms.append(
                (
                    quote(pattern) if "*" not in pattern else f"{quote(command.name + ':')}*",
                    _value_body(value, action),
                )
            )
    return arms


def _flags(options: Iterable[Option]) -> list[str]:
    return [flag for option in options for flag in option.flags]


# -- bash -----------------------------------------------------------------------------


def bash(spec: Spec) -> str:
    fn = _function(spec.prog)
    action = {
        Kind.NONE: "return 0",
        Kind.WORDS: f"{fn}_words {{words}}; return 0",
        Kind.FILE: f"{fn}_files; return 0",
        Kind.PIPELINE: f"{fn}_pipelines; return 0",
    }
    options_arms = [
        (quote(command.name), f"words={quote(_words(_flags(command.options)))}")
        for command in _scopes(spec)
    ]
    return f"""\
# bash completion for {spec.prog} {__version__}: `{spec.prog} completion bash` wrote it.
# Install: see docs/cli.md#shell-completion.
# These read $cur and $config from {fn} (bash scopes are dynamic).
{fn}_words() {{
    mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur")
}}
{fn}_files() {{
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}}
{fn}_pipelines() {{
    mapfile -t COMPREPLY < <("${{COMP_WORDS[0]}}" {COMMAND} pipelines --shell bash \\
        "${{config[@]}}" -- "$cur" 2>/dev/null)
}}

{fn}() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="" cmd="" word value npos=0 i
    local -a config=()
    ((COMP_CWORD > 0)) && prev="${{COMP_WORDS[COMP_CWORD - 1]}}"
    # bash splits --opt=value at "=" (COMP_WORDBREAKS): complete the value after it
    if [[ $cur == "=" ]]; then
        cur=""
    elif [[ $prev == "=" ]] && ((COMP_CWORD > 1)); then
        prev="${{COMP_WORDS[COMP_CWORD - 2]}}"
    fi
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${{COMP_WORDS[i]}}"
        case "$word" in
            {"|".join(spec.value_options())})
                [[ ${{COMP_WORDS[i + 1]}} == "=" ]] && ((i++))
                ((i + 1 < COMP_CWORD)) || break
                ((i++))
                value="${{COMP_WORDS[i]}}"
                [[ $word == --config ]] && config=(--config "$value")
                ;;
            --config=*) config=(--config "${{word#--config=}}") ;;
            -*) ;;
            *) if [[ -z $cmd ]]; then cmd="$word"; else ((npos++)); fi ;;
        esac
    done
    case "$cmd:$prev" in
{_case_arms(_value_arms(spec, action), " " * 8)}    esac
    local words=""
    if [[ $cur == -* ]]; then
        case "$cmd" in
{_case_arms(options_arms, " " * 12)}        esac
        {fn}_words "$words"
        return 0
    fi
    if [[ -z $cmd ]]; then
        {fn}_words {quote(_words(c.name for c in spec.commands))}
        return 0
    fi
    case "$cmd:$npos" in
{_case_arms(_positional_arms(spec, action), " " * 8)}    esac
    return 0
}}
complete -F {fn} {spec.prog}
"""


# -- zsh ------------------------------------------------------------------------------


def _described(items: Iterable[tuple[str, str]]) -> str:
    """A zsh array of `value:description` words (for `_describe`)."""
    return " ".join(quote(f"{value}:{text}" if text else value) for value, text in items)


def zsh(spec: Spec) -> str:
    fn = _function(spec.prog)
    action = {
        Kind.NONE: "return 1",
        Kind.WORDS: "local -a values=({words}); values=(${{=values}}); compadd -a values; return",
        Kind.FILE: "_files; return",
        Kind.PIPELINE: f"{fn}_pipelines; return",
    }
    options_arms = [
        (
            quote(command.name),
            "options=("
            + _described((flag, option.help) for option in command.options for flag in option.flags)
            + ")",
        )
        for command in _scopes(spec)
    ]
    commands = _described((c.name, c.help) for c in spec.commands)
    return f"""\
#compdef {spec.prog}
# zsh completion for {spec.prog} {__version__}: `{spec.prog} completion zsh` wrote it.
# Install: see docs/cli.md#shell-completion.
{fn}_pipelines() {{
    local -a pipelines
    pipelines=(${{(f)"$("${{words[1]}}" {COMMAND} pipelines --shell zsh "${{config[@]}}" \\
        -- "$PREFIX" 2>/dev/null)"}})
    # matched by id or by name already: -U offers them all, replacing the typed word
    _describe -t pipelines pipeline pipelines -U
}}

{fn}() {{
    local prev="${{words[CURRENT - 1]}}" cmd="" word npos=0 i
    local -a config options
    for ((i = 2; i < CURRENT; i++)); do
        word="${{words[i]}}"
        case "$word" in
            ({"|".join(spec.value_options())})
                ((i + 1 < CURRENT)) || break
                ((i++))
                [[ $word == --config ]] && config=(--config "${{words[i]}}")
                ;;
            (--config=*) config=(--config "${{word#--config=}}") ;;
            (-*) ;;
            (*) if [[ -z $cmd ]]; then cmd="$word"; else ((npos++)); fi ;;
        esac
    done
    if [[ $PREFIX == --*=* ]]; then  # --option=value in one word: the value
        prev="${{PREFIX%%=*}}"
        compset -P '*='
    fi
    case "$cmd:$prev" in
{_case_arms(_zsh_arms(_value_arms(spec, action)), " " * 8)}    esac
    if [[ $PREFIX == -* ]]; then
        case "$cmd" in
{_case_arms(_zsh_arms(options_arms), " " * 12)}        esac
        _describe -t options option options
        return
    fi
    if [[ -z $cmd ]]; then
        local -a commands=({commands})
        _describe -t commands command commands
        return
    fi
    case "$cmd:$npos" in
{_case_arms(_zsh_arms(_positional_arms(spec, action)), " " * 8)}    esac
    return 1
}}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    {fn} "$@"  # autoloaded from a file _{spec.prog} in $fpath
else
    compdef {fn} {spec.prog}  # sourced
fi
"""


def _zsh_arms(arms: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(f"({pattern}", body) for pattern, body in arms]


# -- fish -----------------------------------------------------------------------------


def fish(spec: Spec) -> str:
    fn = "_" + _function(spec.prog)
    prog = spec.prog
    lines = [f"complete -c {prog} -f  # no file names unless an option takes a path"]

    def value_flags(value: Value) -> str:
        if value.kind is Kind.FILE:
            return "-r -F"
        if value.kind is Kind.PIPELINE:
            return f"-x -a {quote(f'({fn}_pipelines)')}"
        if value.kind is Kind.WORDS:
            return f"-x -a {quote(_words(value.values))}"
        return "-x"

    for command in _scopes(spec):
        at = quote(f"{fn}_at {command.name or '-'} '*'")
        for option in command.options:
            names = " ".join(
                f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}"
                for flag in option.flags
            )
            takes = "" if option.value is None else " " + value_flags(option.value)
            lines.append(f"complete -c {prog} -n {at} {names}{takes} -d {quote(option.help)}")
    at_top = quote(f"{fn}_at - '*'")
    for command in spec.commands:
        lines.append(f"complete -c {prog} -n {at_top} -a {command.name} -d {quote(command.help)}")
    for command in spec.commands:
        for slot, value in enumerate(command.positionals):
            repeat = command.repeats and slot == len(command.positionals) - 1
            where = "'*'" if repeat else str(slot)
            at = quote(f"{fn}_at {command.name} {where}")
            if value.kind is Kind.FILE:
                lines.append(f"complete -c {prog} -n {at} -F")
            elif value.kind is not Kind.NONE:
                lines.append(f"complete -c {prog} -n {at} {value_flags(value)[3:]}")
    value_options = " ".join(spec.value_options())
    body = "\n".join(lines)
    return f"""\
# fish completion for {prog} {__version__}: `{prog} completion fish` wrote it.
# Install: see docs/cli.md#shell-completion.
function {fn}_state --description 'the command (- for none) and how many positionals it has'
    set -l cmd -
    set -l npos 0
    set -l skip 0
    for word in (commandline -opc)[2..-1]
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $word
            case {value_options}
                set skip 1
            case '-*'
            case '*'
                if test $cmd = -
                    set cmd $word
                else
                    set npos (math $npos + 1)
                end
        end
    end
    echo $cmd
    echo $npos
end

# the command is WANT (- for none), the cursor at its positional SLOT (* for any)
function {fn}_at --argument-names want slot
    set -l state ({fn}_state)
    test "$state[1]" = "$want"; or return 1
    test "$slot" = '*'; or test "$state[2]" = "$slot"
end

function {fn}_pipelines --description 'the pipelines of the config'
    set -l words (commandline -opc)
    set -l config
    for i in (seq 2 (count $words))
        switch $words[$i]
            case --config
                if test $i -lt (count $words)
                    set config --config $words[(math $i + 1)]
                end
            case '--config=*'
                set config --config (string replace -- --config= '' $words[$i])
        end
    end
    $words[1] {COMMAND} pipelines --shell fish $config -- (commandline -ct) 2>/dev/null
end

{body}
"""


def render(shell: str, spec: Spec) -> str:
    if shell == "bash":
        return bash(spec)
    if shell == "zsh":
        return zsh(spec)
    if shell == "fish":
        return fish(spec)
    raise ValueError(f"no completion for {shell!r}: one of {', '.join(SHELLS)}")
