"""Shared fixtures. Snapshots break when NO_COLOR or TEXTUAL_THEME leak in: clear them."""

from __future__ import annotations

import os

for _var in ("NO_COLOR", "TEXTUAL_THEME", "KONDADO_KEY", "KONDADO_TOKEN", "KONDADO_BASE_URL",
             "KONDADO_TUI_CONFIG"):
    os.environ.pop(_var, None)
