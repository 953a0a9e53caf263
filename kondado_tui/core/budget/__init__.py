"""The client-side rate budget and the ledger its records live in."""

from kondado_tui.core.budget.rate_budget import API_PER_MINUTE, BudgetPolicy, RateBudget

__all__ = ["API_PER_MINUTE", "BudgetPolicy", "RateBudget"]
