"""`token_command`: the program that prints the API token, run once without a shell."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping

from kondado_tui.core import paths
from kondado_tui.core.config.validation import Reader, split_command
from kondado_tui.core.guards.redact import register_secret
from kondado_tui.core.guards.sanitize import clean

TOKEN_COMMAND_TIMEOUT = 30.0  # seconds; long enough for a pinentry prompt


def run_token_command(reader: Reader, command: str, env: Mapping[str, str]) -> str:
    """Run `token_command` once, without a shell. Its first output line is the token.

    Stdout is never shown (it is the secret); stderr is, cleaned and shortened.
    """
    argv = split_command(reader, command)
    argv[0] = str(paths.expand(argv[0], env)) if argv[0].startswith("~") else argv[0]
    what = f"token_command '{clean(command)}'"
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            timeout=TOKEN_COMMAND_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise reader.error(
            "api.token_command",
            f"{what}: program '{clean(argv[0])}' not found",
            "install it or fix the command (no shell is used)",
        ) from None
    except PermissionError:
        raise reader.error(
            "api.token_command",
            f"{what}: '{clean(argv[0])}' is not executable",
            "fix the command or the file's permissions",
        ) from None
    except subprocess.TimeoutExpired:
        raise reader.error(
            "api.token_command",
            f"{what} did not finish within {TOKEN_COMMAND_TIMEOUT:g} s",
            "check that it runs without asking for input, e.g. unlock the password store first",
        ) from None
    except OSError as exc:
        raise reader.error(
            "api.token_command", f"{what} could not start ({exc.strerror})", "fix the command"
        ) from None
    token = _first_line(done.stdout)
    if done.returncode != 0:
        errors = " ".join(clean(done.stderr.decode("utf-8", "replace")).split())
        register_secret(token)  # in case the command echoed it on stderr too
        detail = f": {errors[:200]}" if errors else ""
        raise reader.error(
            "api.token_command",
            f"{what} failed (exit {done.returncode}){detail}",
            "run it yourself to see why",
        )
    if not token:
        raise reader.error(
            "api.token_command",
            f"{what} printed nothing",
            "it must print the token on its first line",
        )
    register_secret(token)
    return token


def _first_line(output: bytes) -> str:
    text = output.decode("utf-8", "replace").strip()
    return text.splitlines()[0].strip() if text else ""
