"""Alerts: what counts as new trouble, and the command that tells someone who is not
looking at the screen.

Modules, by idea:
  watch     the one decision of what is new trouble (and its end), from poller events
  payload   what the alert command receives: environment variables and JSON, cleaned
  throttle  the cap on how often the command runs; what is over it is coalesced
  command   running the command: no shell, a minimal environment, a timeout
  hub       the decision and its sinks (listeners such as the dashboard, the command)
"""
