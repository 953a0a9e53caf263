"""Talking to the terminal: lifecycle, the quiet input driver, partial updates, bells."""
