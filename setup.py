"""Packaging: metadata lives in setup.cfg; here, the one thing it cannot say.

The top-level configs/ directory is installed as the package wsl_tf.configs,
so the commands find their default configs from a wheel, while configs/ stays
where users read and copy them from.
"""

import setuptools

setuptools.setup(
    packages=setuptools.find_packages(include=["wsl_tf", "wsl_tf.*", "data_tools", "data_tools.*"])
    + ["wsl_tf.configs"],
    package_dir={"wsl_tf.configs": "configs"},
)
