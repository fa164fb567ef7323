"""Video detectors: unattended items and camera tamper/health, on reduced grey frames.

Entry points: :class:`detectors.video.pipeline.CameraAnalyzer` (one per camera),
:func:`detectors.video.pipeline.decode_jpeg_for_analysis`, :func:`detectors.video.pipeline.render_snapshot`,
settings in :mod:`detectors.video.config`. See ``docs/video.md``. Nothing is imported here so that
loading the config does not pull in OpenCV.
"""
