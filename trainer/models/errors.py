"""The model zoo's error and the option parsing its models share."""

from common.errors import ParameterError


class ModelError(ParameterError):
    """A model option or input shape the model cannot be built with (a ``ValueError``)."""


def option_flag(value, name: str) -> bool:
    """A boolean model option given as bool, 0/1 or true/false text (``--model-option balanced=true``)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ModelError(f"model option {name} must be true or false, got {value!r}")
