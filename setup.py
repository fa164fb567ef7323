"""The compiled part of watchfloor (everything else is in pyproject.toml).

Why C: the held reads' plate table is probed a read at a time, and a Python dict of plate
strings cost ~0.9 us a read at a full window (see detectors/plates/platetable.py).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("detectors.plates._platetable", ["detectors/plates/_platetable.c"],
                             extra_compile_args=["-O2", "-Wall"])])
