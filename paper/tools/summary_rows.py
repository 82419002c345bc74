"""Picking rows out of a run folder's summary, for the paper's quantities and tables."""
import statistics


def mean(values):
    values = list(values)
    if not values:
        raise ValueError("no values to average")
    return statistics.fmean(values)


def rows(items, **match):
    selected = [r for r in items if all(r.get(k) == v for k, v in match.items())]
    if not selected:
        raise ValueError(f"no rows with {match}")
    return selected


def from_records(compute):
    """Marks a quantity computed from the run folder's records (data/NAME.jsonl), not its summary."""
    compute.from_records = True
    return compute


def from_manifest(compute):
    """Marks a quantity computed from the run folder's manifest (its config), not its summary."""
    compute.from_manifest = True
    return compute
