"""Local sockets between kondado-tui processes: one transport, one set of guards.

Two things speak over Linux abstract Unix sockets: the host budget's broker
(`core/budget/`) and an account's collector (`core/collector/`). Both distrust whoever
is at the other end (any local user can bind a name first, or connect to one), so they
share the pieces that keep that safe:

* `framing`: one JSON object a line, bounded (`LineBuffer`), every field checked (the
  `check_*` helpers); anything else is a `ProtocolError`, which ends that connection;
* `names`: abstract names (from an environment variable, for tests), connecting,
  binding (the race that decides who serves), the peer's kernel-verified uid and pid;
* `server`: `LineServer`, a selectors loop on a thread of its own with bounded buffers,
  a hello deadline, caps per user and in all, and a cap on messages a second.
"""
