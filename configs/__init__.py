"""The run configs, installed as the package `wsl_tf.configs` so commands find them from a wheel.

`paper.py` holds the paper's runs, `cpu_small.py` a small CPU run and
`demo.py` the demo. Copy one to start your own.
"""
