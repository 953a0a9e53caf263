"""An account's collector and its viewers: many dashboards, one poller.

The first kondado-tui on a host for an API account (base URL, key and token) polls as
it always did and also serves its observations on a local socket; a second dashboard
for the same account attaches to it as a viewer instead of polling. Modules:

* `trust`: the account's socket name and secrets, the mutual proof, the line seals;
* `messages`, `values`, `wire`: the protocol, its data and its strict line codec;
* `attach`: find the account's collector (and prove it is one) or become it;
* `interest`: the one schedule: the union of every dashboard's pipelines and pauses;
* `serve`: the collector's side of the socket; `local`: the process that polls;
* `viewer`: the dashboard that shows what its collector polls;
* `shared`: `SharedSession`, the session the dashboard opens: serving, viewing, taking
  over when its collector goes (docs/collector.md).
"""
