"""The published number a shipped configuration targets: its ``published:`` block, checked,
stored with the run (results columns ``published_*``) and printed beside the measured value
(docs/fidelity.md, "Published numbers").

A block is a mapping::

    published:
      metric: top-1 accuracy      # or top-1 error (percent)
      value: 93.07                # or none, when the paper published no number for this row
      top5: 98.1                  # optional, in the same sense as metric
      protocol: best epoch        # how the paper picked the epoch: best epoch | final epoch | none
      source: drimpossible/Deep-Expander-Networks:code/textlogs/...@320d04b
      note: ...                   # optional

``best epoch`` numbers are set against the run's ``max_epoch_test_acc`` (the best test accuracy
over epochs, recorded only without a validation split and never used to select anything),
``final epoch`` numbers against ``final_acc``.
"""

from __future__ import annotations

import math

from common.columns import MEASURED_COLUMN, PUBLISHED_COLUMNS

METRICS = ("top-1 accuracy", "top-1 error")
PROTOCOLS = ("best epoch", "final epoch", "none")
REQUIRED = ("metric", "value", "protocol", "source")
OPTIONAL = ("top5", "note")


class PublishedError(ValueError):
    """A malformed ``published:`` block."""


def _number_or_none(value, key: str) -> float | None:
    if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PublishedError(f"published.{key}: expected a number of percent or 'none', got {value!r}")
    if not 0 <= value <= 100:
        raise PublishedError(f"published.{key}: a percentage is between 0 and 100, got {value!r}")
    return float(value)


def checked_published(block) -> dict:
    """``block`` checked and in canonical form ({} stays {}); raises PublishedError naming the key."""
    if block in (None, {}):
        return {}
    if not isinstance(block, dict):
        raise PublishedError(f"published: expected a mapping with {', '.join(REQUIRED)}, got {block!r}")
    unknown = sorted(set(block) - set(REQUIRED) - set(OPTIONAL))
    missing = [key for key in REQUIRED if key not in block]
    if unknown or missing:
        wrong = f"unknown keys {', '.join(map(str, unknown))}" if unknown else f"missing {', '.join(missing)}"
        raise PublishedError(f"published: {wrong} (keys: {', '.join(REQUIRED + OPTIONAL)})")
    checked = {"metric": block["metric"], "protocol": block["protocol"]}
    for key, choices in (("metric", METRICS), ("protocol", PROTOCOLS)):
        if checked[key] not in choices:
            raise PublishedError(f"published.{key}: {checked[key]!r} is not one of {', '.join(choices)}")
    checked["value"] = _number_or_none(block["value"], "value")
    if "top5" in block:
        checked["top5"] = _number_or_none(block["top5"], "top5")
    for key in ("source", "note"):
        if key in block:
            if not isinstance(block[key], str) or not block[key].strip():
                raise PublishedError(f"published.{key}: expected text, got {block[key]!r}")
            checked[key] = block[key].strip()
    if (checked["value"] is None) != (checked["protocol"] == "none"):
        raise PublishedError("published: value none goes with protocol none, and only with it")
    return checked


def published_columns(block: dict) -> dict:
    """The ``published_*`` results columns of a checked block (all None without one)."""
    if not block:
        return dict.fromkeys(PUBLISHED_COLUMNS)
    return {
        "published_metric": block["metric"],
        "published_value": block["value"],
        "published_protocol": block["protocol"],
        "published_source": block["source"],
    }


def _as_metric(accuracy: float | None, metric: str) -> float | None:
    if accuracy is None:
        return None
    return 100.0 - accuracy if metric == "top-1 error" else accuracy


def comparison_lines(row: dict) -> list[str]:
    """What ``train`` prints at the end of a run whose row has ``published_*`` columns: the
    published number, then the run's value measured the same way (or why there is none)."""
    metric, protocol, value = row.get("published_metric"), row.get("published_protocol"), row.get("published_value")
    if not metric:
        return []
    source = row.get("published_source")
    if value in (None, ""):
        lines = [f"published: no number for this experiment ({source})"]
    else:
        lines = [f"published: {metric} {float(value):.2f}% ({protocol}; {source})"]
    column = MEASURED_COLUMN.get(protocol, "final_acc")
    measured = row.get(column)
    if measured in (None, ""):
        why = "it held out a validation split" if column == "max_epoch_test_acc" else "no value"
        lines.append(
            f"this run:  not measured as the paper did ({why}); final-epoch accuracy {float(row['final_acc']):.2f}%"
        )
    else:
        lines.append(f"this run:  {metric} {_as_metric(float(measured), metric):.2f}% ({column})")
    return lines
