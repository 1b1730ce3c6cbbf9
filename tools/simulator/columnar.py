"""A dataclass of equal-length numpy columns: one record per index, selected and stacked as a whole."""

from __future__ import annotations

from dataclasses import fields
from typing import Self

import numpy as np


class Columnar:
    def __len__(self) -> int:
        return len(getattr(self, fields(self)[0].name))

    def take(self, index: np.ndarray) -> Self:
        return type(self)(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @classmethod
    def concat(cls, parts: list[Self]) -> Self:
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})
