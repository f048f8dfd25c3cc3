"""Data sets: a registry of loaders; none downloads anything."""

from trainer.data import cifar, folders, mnist_like  # noqa: F401  (registration)
from trainer.data.checks import check_bundle
from trainer.data.registry import DATASETS, DataBundle, DataConfig

__all__ = ["DATASETS", "DataBundle", "DataConfig", "load_dataset"]


def load_dataset(config: DataConfig) -> DataBundle:
    """Load the data set ``config.name`` (raises RegistryError for an unknown name), checked
    (:func:`trainer.data.checks.check_bundle`)."""
    bundle = DATASETS.get(config.name)(config)
    check_bundle(bundle, config)
    return bundle
