"""Rich styles for severities, taken from the current Textual theme.

Theme variables ($text-success, $text-error...) are readable on their own theme, light
or dark, and the ansi-* themes map them onto the terminal's 16 colours. The words and
glyphs carry the meaning too, so NO_COLOR loses nothing but colour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich.style import Style
from textual.color import Color, ColorParseError

from kondado_tui.core.models import Severity

_SEVERITY_VARIABLE: dict[Severity, str] = {
    Severity.BLOCKED: "text-error",
    Severity.ERROR: "text-error",
    Severity.WARNING: "text-warning",
    Severity.UNKNOWN: "text-warning",
    Severity.BUSY: "text-primary",
    Severity.OK: "text-success",
    Severity.DISABLED: "",
    Severity.PENDING: "",
}


def _color(variables: Mapping[str, str], name: str) -> Style:
    value = variables.get(name, "")
    if not value:
        return Style()
    try:
        return Style(color=Color.parse(value.split()[0]).rich_color)
    except ColorParseError:
        return Style()


@dataclass(frozen=True)
class Palette:
    severity: dict[Severity, Style]
    muted: Style
    stale: Style
    mark: Style
    warning: Style
    error: Style

    def message(self, severity: Severity) -> Style:
        """Free text in a severity's colour, never reversed (blocked rows mark the status)."""
        if severity is Severity.BLOCKED:
            return self.error
        return self.severity[severity]

    @classmethod
    def from_variables(cls, variables: Mapping[str, str]) -> Palette:
        styles = {sev: _color(variables, name) for sev, name in _SEVERITY_VARIABLE.items()}
        styles[Severity.BLOCKED] += Style(bold=True, reverse=True)
        styles[Severity.ERROR] += Style(bold=True)
        styles[Severity.UNKNOWN] += Style(italic=True)
        styles[Severity.DISABLED] = Style(dim=True)
        styles[Severity.PENDING] = Style(dim=True, italic=True)
        return cls(
            severity=styles,
            muted=Style(dim=True),
            stale=Style(dim=True, italic=True),
            mark=_color(variables, "text-accent") + Style(bold=True),
            warning=_color(variables, "text-warning") + Style(bold=True),
            error=_color(variables, "text-error") + Style(bold=True),
        )


PLAIN = Palette.from_variables({})
