from kondado_tui.cli import run

run()
