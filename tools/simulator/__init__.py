"""Source-system simulator: a fictional SIP-trunk operator's landing files, with faults and ground truth.

    from tools.simulator import SimulationConfig, simulate
    result = simulate(SimulationConfig(out=Path("data")), progress=print)

Writes out/landing/<source>/<delivery day>/<file> in the layouts of orchestration/ingestion/layouts.py and
out/ground_truth/{calls.parquet, injections.csv, payments.csv, manifest.json}. Deterministic for a config.
"""

from tools.simulator.config import SimulationConfig, SimulationResult
from tools.simulator.run import simulate

__all__ = ["SimulationConfig", "SimulationResult", "simulate"]
