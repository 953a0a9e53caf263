"""Shell completion for bash, zsh and fish, generated from our own argparse parser.

  spec        what the parser accepts, as data: commands, options, the values they take
  scripts     the bash, zsh and fish scripts `kondado-tui completion SHELL` prints
  candidates  `kondado-tui __complete pipelines`: the pipelines of the config, fast

Why our own small generator rather than argcomplete or shtab (docs/cli.md says it too):
argcomplete answers every TAB by starting the whole CLI (here ~0.4 s of imports: httpx,
the API client, every command) and needs a marker and a call before `parse_args`; shtab
writes no fish script. Ours costs no dependency, covers the three shells, and its only
dynamic part, the pipeline ids and names, comes from `__complete`, which reads the config
with `tomllib` alone: no token, no `token_command`, no network, no rate budget.
"""
