"""Pure detection logic: numpy/OpenCV/plain Python in, dataclasses out.

Nothing in this package imports faust, aiokafka or the web layer, and nothing reads the
environment or the wall clock: time and configuration always arrive as arguments, so every
detector is deterministic under replay and testable on synthetic data.
"""
