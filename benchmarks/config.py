"""What one benchmark run was asked to do; every section reads the same values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_USERS = 2000
DEFAULT_LATENCY = 0.05
QUICK_USERS = 200
QUICK_LATENCY = 0.02  # keeps the one-at-a-time baselines of a smoke run to a few seconds
CHANNELS_PER_USER = 2  # seeded e-mail channels per user: one page each, and room for the sync's "extra" 2%


@dataclass(frozen=True)
class Config:
    users: int
    latency: float
    quick: bool = False
    seed: int = 20240611
    out: Path | None = None  # results.json and the plot go here when given
    plot: Path | None = None  # where the concurrency plot is written (besides ``out``)
    profile: bool = False  # the overhead section also profiles the hook and prints where its CPU goes
