"""``harness compare RUN_A RUN_B``: the two runs side by side per combination, the change in test accuracy
in points, whether it is significant, and ``--fail-on-drop POINTS`` for continuous integration.

A combination trained with the same seeds in both runs is compared seed by seed. Otherwise (other seeds,
another number of repeats) its seeds are pooled on each side: the correct answers of all its seeds over
their test images, that is the mean accuracy across seeds, counted on the ``n`` distinct test images (the
seeds share them), and the two pooled accuracies go through the same two-proportion z-test.

The backend is part of what is matched. Two runs that each trained on one backend, not the same (the same grid
run with ``--backend tensorflow``, then ``--backend jax``), are compared across the backends: each combination
of A with the same combination of B (``backend`` reads ``tensorflow vs jax``, and the output says so).
Otherwise each combination is matched backend by backend: a run with ``--backend tensorflow,jax`` has a row
per backend, compared with the other run's row of the same backend, never merged."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from harness.errors import ExitCode, UsageError
from harness.report import records as rec
from harness.report.significance import newcombe_interval, two_proportion_p
from harness.stats import ALPHA

if TYPE_CHECKING:
    from harness.config import Config

#: ``seed`` is the seed, or for seeds pooled ``"1,2 vs 3"`` (A's seeds vs B's).
#: ``backend`` is the backend, or across backends ``"tensorflow vs jax"`` (A's vs B's).
COLUMNS = ["id", "backend", "seed", "pooled", "status_a", "status_b", "test_accuracy_a", "test_accuracy_b", "n_test_a",
           "n_test_b", "change_points", "ci_low_points", "ci_high_points", "p_value", "significant", "verdict"]


def _key(record: Mapping[str, Any]) -> tuple[str, Any]:
    return str(record.get("id")), record.get("seed")


def backends_of(records: list[dict[str, Any]]) -> list[str]:
    """The backends a run's records name, sorted (none for records written before backends were recorded)."""
    return sorted({str(r["backend"]) for r in records if r.get("backend")})


def across_backends(records_a: list[dict[str, Any]], records_b: list[dict[str, Any]]) -> tuple[str, str] | None:
    """``(A's backend, B's backend)`` when each run trained on one backend and they differ: its combinations
    are then compared across the two backends. ``None``: matched backend by backend."""
    a, b = backends_of(records_a), backends_of(records_b)
    if len(a) == 1 and len(b) == 1 and a != b:
        return a[0], b[0]
    return None


def _matcher(records_a: list[dict[str, Any]], records_b: list[dict[str, Any]]) -> Any:
    """What a record is matched by besides its seed: its combination, and its backend unless the runs are
    compared across backends (or one run's records name none)."""
    by_backend = across_backends(records_a, records_b) is None and bool(backends_of(records_a)) \
        and bool(backends_of(records_b))

    def key(record: Mapping[str, Any]) -> tuple[str, Any]:
        return str(record.get("id")), record.get("backend") if by_backend else None

    return key


def _verdict(row: dict[str, Any]) -> str:
    if row["status_a"] is None:
        return "only in B"
    if row["status_b"] is None:
        return "only in A"
    if math.isnan(row["test_accuracy_b"]) and not math.isnan(row["test_accuracy_a"]):
        return f"{row['status_b']} in B"
    if math.isnan(row["change_points"]):
        return "not comparable"
    if row["significant"]:
        return "better" if row["change_points"] > 0 else "worse"
    return "same (within noise)"


def compare_row(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> dict[str, Any]:
    """One combination and seed: accuracies, change in points, Newcombe interval and z-test p-value."""
    first = a or b or {}
    pa = rec.number((a or {}).get("test_accuracy"))
    pb = rec.number((b or {}).get("test_accuracy"))
    na = int(rec.number((a or {}).get("n_test"))) if (a or {}).get("n_test") else 0
    nb = int(rec.number((b or {}).get("n_test"))) if (b or {}).get("n_test") else 0
    low, high = newcombe_interval(pa, na, pb, nb)
    p = two_proportion_p(pa, na, pb, nb)
    backend_a, backend_b = (a or {}).get("backend"), (b or {}).get("backend")
    backend = f"{backend_a} vs {backend_b}" if backend_a and backend_b and backend_a != backend_b \
        else backend_a or backend_b
    row = {"id": first.get("id"), "backend": backend, "seed": first.get("seed"),
           "pooled": bool(first.get("pooled")),
           "status_a": a.get("status") if a else None, "status_b": b.get("status") if b else None,
           "test_accuracy_a": pa, "test_accuracy_b": pb, "n_test_a": na or None, "n_test_b": nb or None,
           "change_points": 100.0 * (pb - pa), "ci_low_points": 100.0 * low, "ci_high_points": 100.0 * high,
           "p_value": p, "significant": bool(not math.isnan(p) and p < ALPHA)}
    row["verdict"] = _verdict(row)
    return row


def _pooled(records: list[dict[str, Any]]) -> dict[str, Any]:
    """One combination's seeds as one record: the seeds' correct answers over their test images (the mean
    accuracy across seeds), on the ``n`` distinct test images they share."""
    first = records[0]
    tested = [rec.test_counts(r) for r in records if rec.test_counts(r)[0]]
    pooled: dict[str, Any] = {"id": first.get("id"), "backend": first.get("backend"), "pooled": True,
                              "status": rec.combination_status(str(r.get("status")) for r in records)}
    if tested and len(tested) == len(records):
        pooled["n_test"] = min(n for n, _ in tested)
        pooled["test_accuracy"] = sum(c for _, c in tested) / sum(n for n, _ in tested)
    return pooled


def _seeds(records: list[dict[str, Any]]) -> str:
    return ",".join(str(s) for s in sorted({r.get("seed") for r in records}, key=str))


def compare_frame(records_a: list[dict[str, Any]], records_b: list[dict[str, Any]]) -> Any:
    """Both runs side by side (A's order, then what only B has): per combination (and backend, see the
    module's docstring) and seed where the combination has the same seeds in both runs, else one row per
    combination with its seeds pooled."""
    import pandas as pd

    key = _matcher(records_a, records_b)

    def by_combination(records: list[dict[str, Any]]) -> dict[tuple[str, Any], list[dict[str, Any]]]:
        grouped: dict[tuple[str, Any], list[dict[str, Any]]] = {}
        for record in rec.latest_per_task(records):
            grouped.setdefault(key(record), []).append(record)
        return grouped

    in_a, in_b = by_combination(records_a), by_combination(records_b)
    rows = []
    for combination in list(in_a) + [c for c in in_b if c not in in_a]:
        a, b = in_a.get(combination, []), in_b.get(combination, [])
        if not a or not b or _seeds(a) == _seeds(b):
            seeds_a, seeds_b = {_key(r): r for r in a}, {_key(r): r for r in b}
            keys = list(seeds_a) + [k for k in seeds_b if k not in seeds_a]
            rows += [compare_row(seeds_a.get(k), seeds_b.get(k)) for k in keys]
        else:
            row = compare_row(_pooled(a), _pooled(b))
            row["seed"] = f"{_seeds(a)} vs {_seeds(b)}"
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def shows_backend(frame: Any) -> bool:
    """Whether the rows need their backend to be told apart or read (several backends, or across two)."""
    named = {str(b) for b in frame["backend"] if isinstance(b, str)}
    return len(named) > 1 or any(" vs " in b for b in named)


def _name(row: Any, backend: bool = False) -> str:
    where = f"{row.backend}, " if backend and isinstance(row.backend, str) else ""
    return f"{row.id}[{where}seeds {row.seed}, pooled]" if row.pooled else f"{row.id}[{where}seed={row.seed}]"


def drops(frame: Any, points: float) -> list[str]:
    """Why the comparison fails ``--fail-on-drop POINTS``: a drop of more than POINTS, or an accuracy lost
    because the combination errored in B."""
    reasons = []
    backend = shows_backend(frame)
    for row in frame.itertuples(index=False):
        name = _name(row, backend)
        if not math.isnan(row.change_points) and row.change_points < -points:
            reasons.append(f"{name} dropped {-row.change_points:.1f} points "
                           f"({row.test_accuracy_a:.3f} -> {row.test_accuracy_b:.3f})")
        elif row.status_b == "error" and not math.isnan(row.test_accuracy_a):
            reasons.append(f"{name} errored in B (it reached {row.test_accuracy_a:.3f} in A)")
    return reasons


# -------------------------------------------------------------------------------------------------
# What else differs between the runs
# -------------------------------------------------------------------------------------------------


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def differences(records_a: list[dict[str, Any]], records_b: list[dict[str, Any]]) -> list[str]:
    """Settings and test splits that differ between the runs' tasks of a combination (the change may come
    from them); the seed aside. Compared across backends, the backend is one of them."""
    match = _matcher(records_a, records_b)
    by_b = {match(r): r for r in records_b if r.get("config")}
    found: dict[str, None] = {}
    for a in records_a:
        b = by_b.get(match(a))
        if b is None:
            continue
        config_a = dict(_flatten(a.get("config") or {}))
        config_b = dict(_flatten(b.get("config") or {}))
        digest_a = (a.get("dataset_info") or {}).get("split_digest")
        digest_b = (b.get("dataset_info") or {}).get("split_digest")
        # the split seed matters only through the splits it made: their digests say whether they differ
        ignored = {"seed", "split_seed"} if digest_a and digest_b else {"seed"}
        for key in sorted(set(config_a) | set(config_b)):
            if key not in ignored and config_a.get(key) != config_b.get(key) and config_a and config_b:
                found[f"{key}: {config_a.get(key)!r} in A, {config_b.get(key)!r} in B"] = None
        if digest_a and digest_b and digest_a != digest_b:
            found[f"dataset {a.get('dataset')!r}: different splits (digest {digest_a} in A, {digest_b} in B)"] = None
    return list(found)


#: What a run's runtime is made of, as ``harness compare`` names it: a task's numbers depend on each.
RUNTIME_KEYS = ("threads", "backend", "precision", "device")


def _runtime_values(metadata: Mapping[str, Any], records: list[dict[str, Any]]) -> dict[str, str]:
    """The run's threads, backends, precisions and devices, each as one text: from its recorded runtime
    (``metadata.json``'s ``runtime``) where it has one, else from what its records say."""
    stored = metadata.get("runtime")
    runtime: Mapping[str, Any] = stored if isinstance(stored, Mapping) else {}
    trained = [r for r in records if r.get("status") != "skipped"]

    def of_records(field: str) -> str:
        values = {str(r[field]) for r in trained if r.get(field) is not None}
        return ",".join(sorted(values))

    devices = {str((r.get("device") or {}).get("name")) for r in trained if isinstance(r.get("device"), Mapping)}
    found = {
        "threads": str(runtime["threads"]) if "threads" in runtime else of_records("threads"),
        "backend": ",".join(runtime["backends"]) if runtime.get("backends") else of_records("backend"),
        "precision": ",".join(sorted(set(runtime["precisions"].values()))) if runtime.get("precisions")
        else of_records("precision"),
        "device": ",".join(sorted(devices)) or ",".join(str(d) for d in metadata.get("devices") or []),
    }
    return {key: value for key, value in found.items() if value}


def runtime_differences(metadata_a: Mapping[str, Any], metadata_b: Mapping[str, Any], records_a: list[dict[str, Any]],
                        records_b: list[dict[str, Any]], named: list[str] | None = None) -> list[str]:
    """The runtime's parts (:data:`RUNTIME_KEYS`) that differ between the runs, e.g. ``threads 2 in A, 1 in
    B``, leaving out those ``named`` already (by :func:`differences`, from the tasks' configurations)."""
    a, b = _runtime_values(metadata_a, records_a), _runtime_values(metadata_b, records_b)
    covered = {text.partition(":")[0] for text in named or []}
    return [f"{key} {a[key]} in A, {b[key]} in B" for key in RUNTIME_KEYS
            if key in a and key in b and a[key] != b[key] and key not in covered]


# -------------------------------------------------------------------------------------------------
# The command
# -------------------------------------------------------------------------------------------------


def text_table(frame: Any) -> str:
    """The comparison as an aligned plain-text table for the terminal."""
    def acc(value: float, status: Any) -> str:
        return f"{value:.3f}" if not math.isnan(value) else (status if isinstance(status, str) else "-")

    backend = shows_backend(frame)
    header = ["combination", *(["backend"] if backend else []), "seed", "A", "B", "change", "95% CI (points)", "p",
              "verdict"]
    rows = [[str(r.id), *([str(r.backend)] if backend else []), str(r.seed), acc(r.test_accuracy_a, r.status_a),
             acc(r.test_accuracy_b, r.status_b),
             f"{r.change_points:+.1f}" if not math.isnan(r.change_points) else "",
             f"{r.ci_low_points:+.1f} to {r.ci_high_points:+.1f}" if not math.isnan(r.ci_low_points) else "",
             f"{r.p_value:.2g}" if not math.isnan(r.p_value) else "", str(r.verdict)]
            for r in frame.itertuples(index=False)]
    widths = [max(len(c) for c in column) for column in zip(header, *rows)]
    right = {i + backend for i in (1, 2, 3, 4, 5, 6)}

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]) + "\n"


def _test_used(frame: Any) -> str:
    """How the rows were matched and tested, for the line under the table."""
    pooled = int(frame["pooled"].sum())
    by = "combination, backend and seed" if shows_backend(frame) and not _across(frame) else "combination and seed"
    others = "; the others matched seed by seed" if len(frame) > pooled else ""
    matched = (f"{pooled} combination{'s' if pooled != 1 else ''} with other seeds in A and B: seeds pooled "
               f"(mean accuracy across seeds on the distinct test images){others}"
               if pooled else f"matched by {by}")
    return f"test: {matched}; two-proportion z-test, two-sided, p<{ALPHA:g}; interval: Newcombe 95%"


def _across(frame: Any) -> bool:
    return any(isinstance(b, str) and " vs " in b for b in frame["backend"])


def _summary(frame: Any) -> str:
    compared = frame[frame["change_points"].notna()]
    counts = {v: int((compared["verdict"] == v).sum()) for v in ("better", "worse", "same (within noise)")}
    text = (f"{len(compared)} compared: {counts['better']} better, {counts['worse']} worse, "
            f"{counts['same (within noise)']} within noise (two-proportion z-test, p<{ALPHA:g})")
    if len(compared):
        worst = compared.loc[compared["change_points"].idxmin()]
        if worst["change_points"] < 0:
            text += f"; largest drop {worst['change_points']:+.1f} points ({_name(worst, shows_backend(frame))})"
    return text


def compare_runs(run_a: Path, run_b: Path, fail_on_drop: float | None, out: IO[str]) -> ExitCode:
    from harness.store import RunStore

    if fail_on_drop is not None and (math.isnan(fail_on_drop) or fail_on_drop < 0):
        raise UsageError(f"--fail-on-drop: invalid value {fail_on_drop!r}: expected points >= 0, e.g. 2")
    store_a, store_b = RunStore.open(run_a), RunStore.open(run_b)
    records_a, records_b = store_a.records(), store_b.records()
    frame = compare_frame(records_a, records_b)
    out.write(f"A: {run_a}\nB: {run_b}\n")
    across = across_backends(records_a, records_b)
    if across:
        out.write(f"backends: A on {across[0]}, B on {across[1]}: each combination compared across the two "
                  "backends\n")
    if frame.empty:
        out.write("nothing to compare: neither run has a finished task\n")
        return ExitCode.NO_COMBINATIONS
    out.write(text_table(frame))
    out.write(_test_used(frame) + "\n")
    found = differences(records_a, records_b)
    for difference in found:
        out.write(f"note: {difference}\n")
    runtime = runtime_differences(_metadata(store_a), _metadata(store_b), records_a, records_b, found)
    if runtime:
        out.write(f"note: the runs' runtimes differ: {'; '.join(runtime)} (a task's numbers depend on its "
                  "runtime: threads, backend, device, precision)\n")
    out.write(_summary(frame) + "\n")
    reasons = drops(frame, fail_on_drop) if fail_on_drop is not None else []
    if reasons:
        out.write(f"FAILED: {len(reasons)} combination(s) got worse by more than {fail_on_drop:g} points:\n")
        out.writelines(f"  {reason}\n" for reason in reasons)
        return ExitCode.FAILED
    if not frame["change_points"].notna().any():
        out.write("nothing in common: no combination has a test accuracy in both runs\n")
        return ExitCode.NO_COMBINATIONS
    if fail_on_drop is not None:
        out.write(f"OK: no combination got worse by more than {fail_on_drop:g} points\n")
    return ExitCode.OK


def _metadata(store: Any) -> dict[str, Any]:
    """A run's ``metadata.json``, or nothing when it is missing or unreadable (the records still compare)."""
    try:
        return dict(store.metadata())
    except (OSError, ValueError, UsageError):
        return {}


def compare_command(config: Config) -> ExitCode:
    option = config.option
    return compare_runs(Path(option.run_a), Path(option.run_b), option.fail_on_drop, sys.stdout)
