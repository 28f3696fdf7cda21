"""Command-line tools that turn raw image-text collections into datasets."""
