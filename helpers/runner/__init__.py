"""Headless batch runs of the step notebooks, one customer per kernel (`python -m helpers run`)."""

__all__ = ["run_batch", "run_customer"]


def __getattr__(name: str):
    # Imported on first use: papermill and the kernel machinery take seconds to import,
    # which every `python -m helpers` command would otherwise pay.
    if name == "run_batch":
        from .batch import run_batch
        return run_batch
    if name == "run_customer":
        from .customer import run_customer
        return run_customer
    raise AttributeError(name)
