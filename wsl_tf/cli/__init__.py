"""absl entry points of the library: wsl-train, wsl-export, wsl-predict, wsl-eval and wsl-demo.

The data commands, wsl-prepare and wsl-fetch-data, live in data_tools/, with
what every command shares (data_tools/command.py). This is the top layer:
nothing in wsl_tf or data_tools imports it.
"""
