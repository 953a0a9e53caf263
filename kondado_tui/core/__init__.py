"""The core: API client, config, rate budget, scheduling, polling, history, simulator.

It knows nothing of Textual or Rich (an import-linter contract): the CLI and the
dashboard both sit on it.
"""
