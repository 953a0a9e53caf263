"""The configuration file: load and validate it, and add or remove pipelines in place.

Modules, by idea:
  model          the dataclasses other modules receive (Config, PipelineEntry, ...)
  scanner        where a config line is parsed: each line classified, for messages and edits
  validation     what may be written, and the check of a parsed document against it
  token_command  the program that prints the token
  loading        load_config: file + environment + options
  refs           the one parser of pipeline ids and app URLs
  files          atomic, locked writes
  editing        add and remove pipeline entries, set one setting, keeping every other byte
  keys           the [keys] table: the dashboard's action ids, what a key is
  starter        the file `kondado-tui init` writes
"""

from kondado_tui.core.config.editing import (
    EntryError,
    append_pipeline,
    normalize_entry,
    remove_pipeline,
    set_setting,
)
from kondado_tui.core.config.loading import load_config
from kondado_tui.core.config.model import (
    ENV_BASE_URL,
    ENV_KEY,
    ENV_TOKEN,
    LOG_LEVELS,
    MAX_PIPELINE_ID,
    MAX_REQUESTS_PER_MINUTE,
    AlertSettings,
    ApiSettings,
    Config,
    HistorySettings,
    LogSettings,
    PipelineEntry,
    PipelineRefError,
    UiSettings,
)
from kondado_tui.core.config.refs import APP_PIPELINE_URL, parse_pipeline_ref
from kondado_tui.core.config.starter import STARTER_CONFIG, write_starter_config
from kondado_tui.core.config.token_command import TOKEN_COMMAND_TIMEOUT
from kondado_tui.core.config.validation import base_url_problem

__all__ = [
    "APP_PIPELINE_URL",
    "ENV_BASE_URL",
    "ENV_KEY",
    "ENV_TOKEN",
    "LOG_LEVELS",
    "MAX_PIPELINE_ID",
    "MAX_REQUESTS_PER_MINUTE",
    "STARTER_CONFIG",
    "TOKEN_COMMAND_TIMEOUT",
    "AlertSettings",
    "ApiSettings",
    "Config",
    "EntryError",
    "HistorySettings",
    "LogSettings",
    "PipelineEntry",
    "PipelineRefError",
    "UiSettings",
    "append_pipeline",
    "base_url_problem",
    "load_config",
    "normalize_entry",
    "parse_pipeline_ref",
    "remove_pipeline",
    "set_setting",
    "write_starter_config",
]
