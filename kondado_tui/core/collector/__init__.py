"""An account's collector and its viewers: many dashboards, one poller.

The first kondado-tui on a host for an API account (base URL, key and token) polls as
it always did and also serves its observations on a local socket; a second dashboard
for the same account attaches to it as a viewer instead of polling. Modules:

* `trust`: the account's socket name and secrets, the mutual proof, the line seals;
* `messages`, `values`, `wire`: the protocol, its data and its strict line codec.
"""
