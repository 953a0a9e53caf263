"""The banner over the table: what is wrong with the API (unreachable, rate-limited,
refusing the key), shown only while it is; its text from `health_text.banner_text`."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.widgets import Static


class Banner(Static):
    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text(encoding="utf-8")

    def __init__(self) -> None:
        super().__init__(id="banner", markup=False)
        self._text: Text | None = None  # what it shows now (None: hidden)

    def show(self, text: Text | None, *, rate_limited: bool) -> None:
        """Show `text` (None hides the banner); a lock-out is coloured as a warning."""
        if text == self._text:
            return
        self._text = text
        self.set_class(text is not None, "shown")
        self.set_class(rate_limited, "rate")
        self.update(text or "")


__all__ = ["Banner"]
