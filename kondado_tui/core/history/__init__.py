"""What this host saw: the history store (sqlite) and what is derived from it."""
