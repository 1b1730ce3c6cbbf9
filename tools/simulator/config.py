"""What a simulation is asked for, and what it reports back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

MIN_ACCOUNTS = 12  # every country needs a few customers to play the scripted roles (movers, late trunks)


@dataclass(frozen=True)
class SimulationConfig:
    seed: int = 7
    start: date = date(2026, 10, 1)  # first day of traffic (first of a month)
    months: int = 1
    accounts: int = 30
    calls_per_day: int = 20_000  # average over the period, before the weekly rhythm
    out: Path = Path("data")  # writes out/landing/... and out/ground_truth/...
    inject_faults: bool = True
    deck_prefixes: int = 0  # above the demo deck's size: nested sub-ranges up to this many prefixes per plan
    split_bands: bool = False  # every plan with bands splits calls at band changes (band_mode split)
    fraud: str = "training"  # fraud mix (simulator/fraud.py): none | training | holdout (evaluation only)
    leakage: str = "none"  # leakage families (simulator/leakage/families.py): none | training | holdout | all

    def __post_init__(self) -> None:
        if self.start.day != 1:
            raise ValueError(f"start must be the first day of a month, got {self.start}")
        if self.months < 1:
            raise ValueError("months must be at least 1")
        if self.accounts < MIN_ACCOUNTS:
            raise ValueError(f"accounts must be at least {MIN_ACCOUNTS}")
        if self.fraud not in ("none", "training", "holdout"):
            raise ValueError(f"fraud must be none, training or holdout, got {self.fraud!r}")
        if self.leakage not in ("none", "training", "holdout", "all"):
            raise ValueError(f"leakage must be none, training, holdout or all, got {self.leakage!r}")
        if self.calls_per_day < 100:
            raise ValueError("calls_per_day must be at least 100")


@dataclass(frozen=True)
class SimulationResult:
    landing_dir: Path
    ground_truth_dir: Path
    calls: int  # true calls (one per call, whatever the records)
    files: int  # files written under landing_dir, reference data included
    records: int  # CDR lines written under landing_dir (no headers), copies and faulty lines included
    injections: int  # rows of ground_truth/injections.csv
