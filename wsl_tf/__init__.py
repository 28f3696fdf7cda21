"""wsl_tf: learning visual features from weakly supervised image-text data.

Kept free of heavy imports so that worker processes (which only need the text
rules) start fast; import submodules directly.
"""

__version__ = "0.1.0"
