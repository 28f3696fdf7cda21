"""absl entry points of the library: wsl-train (train.py) and wsl-demo (demo.py); common.py is what they share.

The data commands, wsl-prepare and wsl-fetch-data, live in data_tools/.
"""
