"""View models: what the dashboard shows, as plain data and Rich text (no widgets)."""
