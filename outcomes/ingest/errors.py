"""The error raised when a dataset, or one of its files, cannot be read at all."""

from __future__ import annotations

__all__ = ["DatasetError"]


class DatasetError(Exception):
    """A dataset, or one of its files, cannot be read at all.

    The message names the file and the problem; the command line prints it and
    exits with status 2.
    """
