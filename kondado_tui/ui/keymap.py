"""What `[keys]` does to the dashboard's default keys, read from the bindings themselves.

Textual 8.2.8's keymap gives a remapped action the new key and takes it from whatever
action had it, without calling `App.handle_bindings_clash` when that action is not in
the keymap (its test `keymap.get(id) != key` is true for a missing id). So the dashboard
looks for such clashes itself and says which action lost its key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from textual.binding import Binding
from textual.keys import _normalize_key_list


def default_keys() -> dict[str, set[str]]:
    """Action id -> its default keys, over every screen that binds an id."""
    from kondado_tui.ui.app import KondadoApp  # the owners of the bindings
    from kondado_tui.ui.screens.detail import DetailScreen
    from kondado_tui.ui.screens.main import MainScreen
    from kondado_tui.ui.widgets.pipeline_table import PipelineTable

    found: dict[str, set[str]] = {}
    for owner in (KondadoApp, MainScreen, DetailScreen, PipelineTable):
        for binding in owner.BINDINGS:
            if isinstance(binding, Binding) and binding.id is not None:
                found.setdefault(binding.id, set()).update(
                    _normalize_key_list(binding.key).split(",")
                )
    return found


def keymap_clashes(keymap: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """(key, action) for each default key an action lost to another in `keymap`."""
    defaults = default_keys()
    for action_id, keys in keymap.items():
        for key in _normalize_key_list(keys).split(","):
            for owner, owned in sorted(defaults.items()):
                if owner != action_id and owner not in keymap and key in owned:
                    yield key, owner
