"""``pfs completion bash|zsh|fish``: a tab-completion script for the shell that sources it.

Commands come from the COMMANDS table and their options from each command's own argparse parser,
so the scripts never drift from the commands. Arguments starting with ``/`` complete as remote
paths by running ``pfs ls -1`` quietly on their directory (with the same --server/--token/--profile
the line already has); anything else completes as a local file.
"""

from __future__ import annotations

from pfs.shell.commands import COMMANDS

SHELLS = ("bash", "zsh", "fish")

#: The top-level options, and those of them that take a value (whose next word is not a command).
GLOBAL_OPTIONS = (
    "--server",
    "--token",
    "--ca-bundle",
    "--profile",
    "--json",
    "--no-color",
    "--version",
    "--help",
)
VALUE_OPTIONS = ("--server", "--pfs-api-baseurl", "--token", "--ca-bundle", "--profile")
EXTRA_COMMANDS = ("sh", "fuse", "mcp", "completion")


def command_options() -> dict[str, list[str]]:
    """Every one-shot command and its option strings, read from its parser."""
    table: dict[str, list[str]] = {}
    for name, cmd in sorted(COMMANDS.items()):
        if cmd.repl_only:
            continue
        parser = cmd.parser(f"pfs {name}")
        table[name] = sorted(
            option for action in parser._actions for option in action.option_strings
        )
    return table


def script(shell: str) -> str:
    if shell not in SHELLS:
        raise ValueError(f"no completion for {shell!r}; choose one of {', '.join(SHELLS)}")
    return {"bash": bash, "zsh": zsh, "fish": fish}[shell](command_options())


def bash(table: dict[str, list[str]]) -> str:
    cases = "\n".join(f"        {name}) opts='{' '.join(opts)}' ;;" for name, opts in table.items())
    commands = " ".join([*table, *EXTRA_COMMANDS])
    return _BASH.format(
        commands=commands,
        globals=" ".join(GLOBAL_OPTIONS),
        value_options="|".join(VALUE_OPTIONS),
        cases=cases,
    )


# Sourced by bash; also what zsh runs through bashcompinit, so one logic serves both.
_BASH = r"""# pfs completion for bash: source <(pfs completion bash)
_pfs_remote() {{
    # remote paths: list the directory of the word with `pfs ls -1`, quietly
    local dir=${{1%/*}}/ conn=() i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${{COMP_WORDS[i]}} in
            --server|--token|--profile|--ca-bundle)
                conn+=("${{COMP_WORDS[i]}}" "${{COMP_WORDS[i+1]}}");;
        esac
    done
    local name
    while IFS= read -r name; do
        [[ -n $name ]] && printf '%s\n' "$dir$name"
    done < <(command pfs "${{conn[@]}}" --no-color ls -1 "$dir" 2>/dev/null)
}}

_pfs() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}} cmd="" i opts=""
    case $prev in
        {value_options}) COMPREPLY=(); return;;
    esac
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${{COMP_WORDS[i]}} in
            {value_options}) ((i++));;
            -*) ;;
            *) cmd=${{COMP_WORDS[i]}}; break;;
        esac
    done
    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W '{globals}' -- "$cur"))
        else
            COMPREPLY=($(compgen -W '{commands}' -- "$cur"))
        fi
        return
    fi
    case $cmd in
{cases}
        completion) COMPREPLY=($(compgen -W 'bash zsh fish' -- "$cur")); return;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [[ $cur == /* ]]; then
        compopt -o nospace 2>/dev/null
        local IFS=$'\n'
        COMPREPLY=($(compgen -W "$(_pfs_remote "$cur")" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}}
complete -F _pfs pfs
"""


def zsh(table: dict[str, list[str]]) -> str:
    return (
        "# pfs completion for zsh: source <(pfs completion zsh)\n"
        "autoload -U +X bashcompinit && bashcompinit\n" + bash(table)
    )


def fish(table: dict[str, list[str]]) -> str:
    lines = [
        "# pfs completion for fish: pfs completion fish | source",
        "complete -c pfs -f",
        "function __pfs_remote",
        "    set -l dir (string replace -r '[^/]*$' '' -- (commandline -ct))",
        "    for name in (command pfs --no-color ls -1 $dir 2>/dev/null)",
        "        echo $dir$name",
        "    end",
        "end",
    ]
    for option in GLOBAL_OPTIONS:
        lines.append(f"complete -c pfs -n __fish_use_subcommand -l {option[2:]}")
    for name in [*table, *EXTRA_COMMANDS]:
        lines.append(f"complete -c pfs -n __fish_use_subcommand -a {name}")
    for name, opts in table.items():
        when = f"-n '__fish_seen_subcommand_from {name}'"
        for option in opts:
            flag = f"-l {option[2:]}" if option.startswith("--") else f"-s {option[1:]}"
            lines.append(f"complete -c pfs {when} {flag}")
        lines.append(f"complete -c pfs {when} -a '(__pfs_remote)'")
        lines.append(f"complete -c pfs {when} -F")
    lines.append("complete -c pfs -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'")
    return "\n".join(lines) + "\n"
