"""The compiled part of watchfloor (everything else is in pyproject.toml).

Why C: the held reads' store takes in every read a read at a time. A Python dict of plate
strings cost ~0.9 us a read at a full window (detectors/plates/platetable.py), numpy passes
plus Python loops over a batch ~3 us a read (detectors/plates/recent.py), and turning records into
a batch's columns ~1 us a read (detectors/plates/sighting.py), and asking the watchlist's key
filter about a batch ~0.6 us a read (detectors/plates/keyfilter.py).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension(f"detectors.plates.{name}", [f"detectors/plates/{name}.c"],
                             extra_compile_args=["-O2", "-Wall"])
                   for name in ("_platetable", "_recent", "_columns", "_keyfilter")])
