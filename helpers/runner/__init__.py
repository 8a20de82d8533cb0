"""Headless batch runs of the step notebooks, one customer per kernel (`python -m helpers run`)."""
from .batch import run_batch
from .customer import run_customer

__all__ = ["run_batch", "run_customer"]
