"""absl entry points: wsl-prepare, wsl-fetch-data, wsl-train, wsl-export, wsl-predict, wsl-eval and wsl-demo.

Each command parses its flags and calls the library (wsl_tf) or the data
tools (data_tools); what every command shares is command.py. This is the top
layer: nothing in wsl_tf or data_tools imports it.
"""
