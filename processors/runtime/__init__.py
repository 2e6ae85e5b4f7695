"""The runtime every processor shares: consuming, idempotency, acks, dead letters, registration
and the query API. A processor team writes its transform and its store, and imports these."""

from .app import deriving, processor_app
from .base import Derived, DerivedStore, DerivingProcessor, ProcessorInfo, Source
from .settings import RuntimeSettings

__all__ = [
    "Derived",
    "DerivedStore",
    "DerivingProcessor",
    "ProcessorInfo",
    "RuntimeSettings",
    "Source",
    "deriving",
    "processor_app",
]
