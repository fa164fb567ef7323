"""The plate simulator gives plausible journeys, so the demo's alerts mean something."""

from __future__ import annotations

from streams.config import DEFAULT_CONFIG_PATH, load_config
from streams.simulate import PlateReadSimulator


def test_ordinary_vehicles_stay_at_their_home_camera_and_clones_appear_elsewhere() -> None:
    cameras = [c for c in load_config(DEFAULT_CONFIG_PATH, env={}).cameras if c.kind == "anpr"]
    simulator = PlateReadSimulator(cameras, ["KX19ABC"], hit_every=10, clone_every=50, seed=1)
    seen: dict[str, set[str]] = {}
    for i in range(2000):
        read = simulator.next_read(1.7e9 + i)
        seen.setdefault(read.plate.replace(" ", ""), set()).add(read.camera_id)
    sites = {c.id: c.site for c in cameras}
    clone_sites = {sites[c] for c in seen.pop("KX19ABC")}
    assert len(clone_sites) >= 2  # the vehicle of interest also turns up at another site
    assert all(len(cams) == 1 for cams in seen.values())  # everyone else: one home camera
