"""absl entry points of the library: wsl-train, wsl-export, wsl-predict, wsl-eval and wsl-demo; common.py is what they share.

The data commands, wsl-prepare and wsl-fetch-data, live in data_tools/.
"""
