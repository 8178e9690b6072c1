"""The leaks' dataloader."""

from __future__ import annotations

from app.graphql.batching import KeyLoader
from app.leaks import service as leaks
from app.leaks.models import KeyExposure


class ExposuresByKeySetIdLoader(KeyLoader[int, KeyExposure]):
    def __init__(self) -> None:
        super().__init__(leaks.first_exposures, cache=False)
