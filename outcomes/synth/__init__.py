"""Synthetic data with known truth, and the bundled demo dataset (``synth/demo_data/``).

Only synthetic data are in this package; see :func:`make_demo`.
"""

from outcomes.synth.generator import DemoData, demo_dataset_path, make_demo, write_demo

__all__ = ["DemoData", "demo_dataset_path", "make_demo", "write_demo"]
