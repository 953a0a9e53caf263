"""The client-side rate budget: per process (`RateBudget`, on a ledger) or shared by
every kondado-tui on the host through its broker (`HostBudget`)."""

from kondado_tui.core.budget.host_budget import HostBudget
from kondado_tui.core.budget.policy import API_PER_MINUTE, BudgetPolicy
from kondado_tui.core.budget.rate_budget import RateBudget

Budget = RateBudget | HostBudget
"""What `session.open_budget` gives: every request of the process goes through it."""

__all__ = ["API_PER_MINUTE", "Budget", "BudgetPolicy", "HostBudget", "RateBudget"]
