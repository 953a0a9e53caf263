"""Widgets of the dashboard: one module each."""
