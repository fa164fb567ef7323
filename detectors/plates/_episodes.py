"""Bookkeeping shared by the windowed rules: 'once per episode'."""

from __future__ import annotations


def claim_episode(episodes: list[list[float]], t: float, window_s: float) -> bool:
    """Record a qualifying event at ``t``; return True if it starts a new episode.

    An episode is an interval ``[start, end]``; a qualifying event within ``window_s`` of an
    existing episode extends it instead of starting a new one, so a plate that keeps circling
    (or a convoy that keeps going) is reported once, and late or re-processed reads do not
    re-report it.

    >>> eps: list[list[float]] = []
    >>> claim_episode(eps, 100.0, 60.0), claim_episode(eps, 150.0, 60.0), claim_episode(eps, 400.0, 60.0)
    (True, False, True)
    """
    for ep in episodes:
        if ep[0] - window_s <= t <= ep[1] + window_s:
            ep[0] = min(ep[0], t)
            ep[1] = max(ep[1], t)
            return False
    episodes.append([t, t])
    return True


def prune_episodes(episodes: list[list[float]], cutoff: float, window_s: float) -> None:
    """Forget episodes that ended more than ``window_s`` before ``cutoff``."""
    episodes[:] = [ep for ep in episodes if ep[1] + window_s >= cutoff]
