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
per backend, compared with the other run's row of the same backend, never merged.

**Paired, image by image**, when both runs kept per-image predictions (:mod:`harness.predictions`) of a
combination for the same test images (the same ids with the same labels): every combination of a run is
scored on the same images, so the question is on how many images exactly one of the two runs was right
(``only_a``, ``only_b``), which McNemar's exact test answers (:func:`harness.stats.mcnemar`) far more sharply
than two accuracies compared as if measured on independent images. The pairs are an image and a seed that
both runs trained: a combination with seeds 1 and 2 in both runs gives 2 x ``n`` pairs (image ``i`` of seed 1
in A with image ``i`` of seed 1 in B), and a seed that only one run trained is left out of the test (the row's
seed then reads ``1,2,3 vs 1,2``). Runs with no seed in common (``--seed 1`` and ``--seed 5``) pair their
seeds in order instead, the first of A with the first of B and so on, as many as the run with fewer has: an
image is the same image whatever seed trained the model, so its two answers still pair. The combination has
one row, its accuracies those of the paired answers (the mean over the paired seeds), its interval Tango's
for paired proportions (:func:`paired_interval`, the report's), and its p-values are Holm-adjusted across
the comparison's paired combinations: the verdict reads the adjusted p. Pooling seeds treats an image's
answers under two seeds as independent pairs, which they are not quite (a hard image is hard for every
seed), so the pooled p is somewhat optimistic; with one seed it is exact.

Otherwise the combination gets the unpaired comparison above, and its row says why
(``unpaired_because``): a run without predictions (written before harness kept them, or by a trainer that
returns none), a prediction file missing, other test images (other ids or labels, or other splits: the records'
split digests differ, since a generated dataset's ids are indices that other splits share), or a paired seed
without a test accuracy."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from harness.errors import ExitCode, UsageError
from harness.report import records as rec
from harness.report.significance import newcombe_interval, two_proportion_p
from harness.stats import ALPHA, holm, mcnemar

if TYPE_CHECKING:
    from harness.config import Config

#: ``seed`` is the seed, or for seeds pooled ``"1,2 vs 3"`` (A's seeds vs B's).
#: ``backend`` is the backend, or across backends ``"tensorflow vs jax"`` (A's vs B's).
#: ``test`` is :data:`PAIRED` or :data:`UNPAIRED` (empty where nothing was tested); ``only_a``, ``only_b`` and
#: ``pairs`` (image-and-seed pairs) and ``p_holm`` are the paired test's, ``unpaired_because`` why a row is not.
COLUMNS = ["id", "backend", "seed", "pooled", "test", "status_a", "status_b", "test_accuracy_a", "test_accuracy_b",
           "n_test_a", "n_test_b", "pairs", "only_a", "only_b", "change_points", "ci_low_points", "ci_high_points",
           "p_value", "p_holm", "significant", "verdict", "unpaired_because"]

#: The ``test`` of a row compared image by image: McNemar's exact test, Holm-adjusted across the paired rows.
PAIRED = "mcnemar"
#: The ``test`` of a row compared on its accuracies alone: the two-proportion z-test.
UNPAIRED = "z-test"
#: Why a run has no predictions to pair, when its records name no prediction file.
NO_PREDICTIONS = "written before harness kept them, or by a trainer that returns none"


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
    row = {"id": first.get("id"), "backend": _backend(a, b), "seed": first.get("seed"),
           "pooled": bool(first.get("pooled")), "test": UNPAIRED if not math.isnan(p) else "",
           "status_a": a.get("status") if a else None, "status_b": b.get("status") if b else None,
           "test_accuracy_a": pa, "test_accuracy_b": pb, "n_test_a": na or None, "n_test_b": nb or None,
           "pairs": None, "only_a": None, "only_b": None,
           "change_points": 100.0 * (pb - pa), "ci_low_points": 100.0 * low, "ci_high_points": 100.0 * high,
           "p_value": p, "p_holm": math.nan, "significant": bool(not math.isnan(p) and p < ALPHA),
           "unpaired_because": None}
    row["verdict"] = _verdict(row)
    return row


def _backend(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> Any:
    """A row's backend: the one both sides trained on, or across backends ``"tensorflow vs jax"``."""
    backend_a, backend_b = (a or {}).get("backend"), (b or {}).get("backend")
    return f"{backend_a} vs {backend_b}" if backend_a and backend_b and backend_a != backend_b \
        else backend_a or backend_b


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
    return ",".join(str(s) for s in sorted({r.get("seed") for r in records}, key=_seed_order))


def compare_frame(records_a: list[dict[str, Any]], records_b: list[dict[str, Any]], run_a: Path | None = None,
                  run_b: Path | None = None) -> Any:
    """Both runs side by side (A's order, then what only B has): per combination (and backend, see the
    module's docstring), one row compared image by image where both runs' predictions (read from the run
    directories ``run_a`` and ``run_b``) pair; otherwise per seed where the combination has the same seeds in
    both runs, else one row with its seeds pooled."""
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
        rows += _combination_rows(in_a.get(combination, []), in_b.get(combination, []), run_a, run_b)
    _adjust(rows)
    return pd.DataFrame(rows, columns=COLUMNS)


def _combination_rows(a: list[dict[str, Any]], b: list[dict[str, Any]], run_a: Path | None,
                      run_b: Path | None) -> list[dict[str, Any]]:
    """One combination's rows: paired when its predictions pair, else today's unpaired rows, each saying why."""
    because = None
    if a and b:
        pairs, because = pair_combination(a, b, run_a, run_b)
        if pairs is not None:
            return [paired_row(a, b, pairs)]
    if not a or not b or _seeds(a) == _seeds(b):
        seeds_a, seeds_b = {_key(r): r for r in a}, {_key(r): r for r in b}
        keys = list(seeds_a) + [k for k in seeds_b if k not in seeds_a]
        rows = [compare_row(seeds_a.get(k), seeds_b.get(k)) for k in keys]
    else:
        row = compare_row(_pooled(a), _pooled(b))
        row["seed"] = f"{_seeds(a)} vs {_seeds(b)}"
        rows = [row]
    for row in rows:
        row["unpaired_because"] = because
    return rows


def _adjust(rows: list[dict[str, Any]]) -> None:
    """Holm's adjustment across the paired rows (one family: the combinations compared image by image); a
    paired row's verdict reads its adjusted p."""
    paired = [row for row in rows if row["test"] == PAIRED]
    for row, adjusted in zip(paired, holm([row["p_value"] for row in paired])):
        row["p_holm"] = adjusted
        row["significant"] = bool(adjusted < ALPHA)
        row["verdict"] = _verdict(row)


# -------------------------------------------------------------------------------------------------
# Image by image
# -------------------------------------------------------------------------------------------------


@dataclass
class Pairs:
    """A combination's answers paired image by image over the seeds both runs trained (or, with none in
    common, their seeds in order: ``seeds`` holds A's and B's seed of each pair): how many pairs both runs got
    right, only A, only B, neither."""

    seeds: list[tuple[Any, Any]]
    images: int = 0
    both: int = 0
    only_a: int = 0
    only_b: int = 0
    neither: int = 0

    @property
    def n(self) -> int:
        return self.both + self.only_a + self.only_b + self.neither

    def add(self, right_a: Any, right_b: Any) -> None:
        """One seed's answers (boolean Series aligned on the image ids, :func:`harness.predictions.paired`)."""
        self.images = max(self.images, len(right_a))
        self.both += int((right_a & right_b).sum())
        self.only_a += int((right_a & ~right_b).sum())
        self.only_b += int((~right_a & right_b).sum())
        self.neither += int((~right_a & ~right_b).sum())


def _table(run: Path | None, record: Mapping[str, Any], side: str) -> tuple[Any | None, str]:
    """A record's predictions, or ``None`` and why there are none (the words of ``unpaired_because``)."""
    from harness import predictions

    relative = record.get("predictions")
    if record.get("predictions_error"):
        error = record["predictions_error"]
        return None, f"run {side}'s predictions of seed {record.get('seed')} were not kept ({error})"
    if run is None or not isinstance(relative, str):
        return None, f"run {side} has no per-image predictions ({NO_PREDICTIONS})"
    try:
        table = predictions.read(run, record)
    except (OSError, ValueError, EOFError) as exc:  # a damaged file (bad gzip, bad CSV) costs only the pairing
        return None, f"run {side}'s {relative} cannot be read ({type(exc).__name__}: {exc})"
    if table is None:
        return None, f"run {side}'s {relative} is missing"
    return table, ""


def _images_differ(table_a: Any, table_b: Any) -> str:
    """How two tasks' test images differ, for ``test images differ: ...``."""
    ids_a, ids_b = set(table_a["id"]), set(table_b["id"])
    if ids_a != ids_b:
        return f"{len(ids_a)} image ids in A, {len(ids_b)} in B, {len(ids_a & ids_b)} in both"
    if len(table_a) != len(table_b) or len(ids_a) != len(table_a):
        return f"{len(table_a)} rows in A, {len(table_b)} in B for {len(ids_a)} image ids"
    labels = table_a.set_index("id")["label"].sort_index() != table_b.set_index("id")["label"].sort_index()
    return f"the same {len(ids_a)} image ids, {int(labels.sum())} with another label"


def _finished(record: Mapping[str, Any]) -> bool:
    return not math.isnan(rec.number(record.get("test_accuracy")))


def _split_digest(record: Mapping[str, Any]) -> Any:
    return (record.get("dataset_info") or {}).get("split_digest")


def _seed_order(seed: Any) -> tuple[int, Any]:
    """Seeds in numeric order (``2`` before ``10``), any other value after them by its text."""
    return (0, seed) if isinstance(seed, (int, float)) and not isinstance(seed, bool) else (1, str(seed))


def pair_combination(a: list[dict[str, Any]], b: list[dict[str, Any]], run_a: Path | None,
                     run_b: Path | None) -> tuple[Pairs | None, str | None]:
    """A combination's answers paired image by image over the seeds both runs trained (see the module's
    docstring), or ``None`` and why they cannot be: then the combination is compared unpaired."""
    from harness import predictions

    seeds_a, seeds_b = {r.get("seed"): r for r in a}, {r.get("seed"): r for r in b}
    common = sorted(set(seeds_a) & set(seeds_b), key=_seed_order)
    pairs = Pairs(seeds=[(s, s) for s in common] or list(zip(sorted(seeds_a, key=_seed_order),
                                                             sorted(seeds_b, key=_seed_order))))
    for seed_a, seed_b in pairs.seeds:
        ra, rb = seeds_a[seed_a], seeds_b[seed_b]
        for side, record in (("A", ra), ("B", rb)):
            if not _finished(record):
                return None, f"seed {record.get('seed')} has no test accuracy in {side} ({record.get('status')})"
        digest_a, digest_b = _split_digest(ra), _split_digest(rb)
        if digest_a and digest_b and digest_a != digest_b:
            # a generated dataset's ids are indices: other splits can share ids and labels, never images
            return None, f"test images differ: other splits (digest {digest_a} in A, {digest_b} in B)"
        (table_a, why_a), (table_b, why_b) = _table(run_a, ra, "A"), _table(run_b, rb, "B")
        if table_a is None or table_b is None:
            both_lack = why_a.startswith("run A has no") and why_b.startswith("run B has no")
            return None, f"neither run has per-image predictions ({NO_PREDICTIONS})" if both_lack else why_a or why_b
        right = predictions.paired(table_a, table_b)
        if right is None:
            return None, f"test images differ: {_images_differ(table_a, table_b)}"
        pairs.add(*right)
    return pairs, None


def paired_interval(pairs: Pairs) -> tuple[float, float]:
    """95% interval of B's accuracy minus A's on paired answers: the report's paired interval (Tango's score
    interval, :func:`harness.stats.paired_difference`), so that a comparison and a report say the same."""
    from harness import stats

    difference = stats.paired_difference(pairs.only_b, pairs.only_a, pairs.n)
    return difference.low, difference.high


def paired_row(a: list[dict[str, Any]], b: list[dict[str, Any]], pairs: Pairs) -> dict[str, Any]:
    """A combination compared image by image: the paired answers' accuracies, the change, its paired interval
    and McNemar's p (Holm's adjustment and the verdict come with the other paired rows: :func:`_adjust`)."""
    paired_a = [r for r in a if r.get("seed") in {s for s, _ in pairs.seeds}]
    paired_b = [r for r in b if r.get("seed") in {s for _, s in pairs.seeds}]
    n = pairs.n
    pa, pb = (pairs.both + pairs.only_a) / n, (pairs.both + pairs.only_b) / n
    low, high = paired_interval(pairs)
    same_seeds = _seeds(a) == _seeds(b)
    seed: Any = pairs.seeds[0][0] if same_seeds and len(pairs.seeds) == 1 else \
        _seeds(a) if same_seeds else f"{_seeds(a)} vs {_seeds(b)}"
    p = mcnemar(pairs.only_a, pairs.only_b)
    return {"id": a[0].get("id"), "backend": _backend(a[0], b[0]), "seed": seed,
            "pooled": not same_seeds or len(pairs.seeds) > 1, "test": PAIRED,
            "status_a": rec.combination_status(str(r.get("status")) for r in paired_a),
            "status_b": rec.combination_status(str(r.get("status")) for r in paired_b),
            "test_accuracy_a": pa, "test_accuracy_b": pb, "n_test_a": pairs.images, "n_test_b": pairs.images,
            "pairs": n, "only_a": pairs.only_a, "only_b": pairs.only_b, "change_points": 100.0 * (pb - pa),
            "ci_low_points": 100.0 * low, "ci_high_points": 100.0 * high, "p_value": p, "p_holm": math.nan,
            "significant": False, "verdict": "", "unpaired_because": None}


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


def _cells(row: Any) -> dict[str, str]:
    """A row's cells in the terminal, by column header."""
    def acc(value: float, status: Any) -> str:
        return f"{value:.3f}" if not math.isnan(value) else (status if isinstance(status, str) else "-")

    paired = row.test == PAIRED
    return {
        "combination": str(row.id), "backend": str(row.backend), "seed": str(row.seed),
        "A": acc(row.test_accuracy_a, row.status_a), "B": acc(row.test_accuracy_b, row.status_b),
        "change": f"{row.change_points:+.1f}" if not math.isnan(row.change_points) else "",
        "95% CI (points)": f"{row.ci_low_points:+.1f} to {row.ci_high_points:+.1f}"
        if not math.isnan(row.ci_low_points) else "",
        "only A/B": f"{int(row.only_a)}/{int(row.only_b)}" if paired else "",
        "p": f"{row.p_value:.2g}" if not math.isnan(row.p_value) else "",
        "p (Holm)": f"{row.p_holm:.2g}" if paired else "",
        "test": {PAIRED: "McNemar", UNPAIRED: "z-test"}.get(str(row.test), ""), "verdict": str(row.verdict),
    }


def text_table(frame: Any) -> str:
    """The comparison as an aligned plain-text table for the terminal, with the test each row used (and, when
    a row was compared image by image, the images only A or only B got right and the Holm-adjusted p)."""
    paired = bool((frame["test"] == PAIRED).any())
    header = ["combination", *(["backend"] if shows_backend(frame) else []), "seed", "A", "B", "change",
              "95% CI (points)", *(["only A/B"] if paired else []), "p", *(["p (Holm)"] if paired else []), "test",
              "verdict"]
    rows = [[cells[h] for h in header] for cells in map(_cells, frame.itertuples(index=False))]
    widths = [max(len(c) for c in column) for column in zip(header, *rows)]
    left = {"combination", "backend", "test", "verdict"}

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if h in left else c.rjust(w) for h, c, w in zip(header, cells, widths)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]) + "\n"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _test_used(frame: Any) -> list[str]:
    """How the rows were matched and tested, and why rows were not paired, for the lines under the table."""
    lines = []
    paired = int((frame["test"] == PAIRED).sum())
    if paired:
        lines.append(f"test: {_plural(paired, 'combination')} paired image by image (the same test images in both "
                     "runs): McNemar's exact test on the images only one run got right (only A/B), pooled over the "
                     "seeds both runs trained (else their seeds in order), Holm-adjusted across the "
                     f"{paired}, p<{ALPHA:g}; interval: Tango's paired 95%")
    unpaired = frame[frame["test"] != PAIRED]
    if (unpaired["test"] == UNPAIRED).any() or not paired:
        pooled = int(unpaired["pooled"].sum())
        by = "combination, backend and seed" if shows_backend(frame) and not _across(frame) \
            else "combination and seed"
        others = "; the others matched seed by seed" if len(unpaired) > pooled else ""
        matched = (f"{_plural(pooled, 'combination')} with other seeds in A and B: seeds pooled "
                   f"(mean accuracy across seeds on the distinct test images){others}" if pooled
                   else f"matched by {by}")
        lines.append(f"{'unpaired rows' if paired else 'test'}: {matched}; two-proportion z-test, two-sided, "
                     f"p<{ALPHA:g}; interval: Newcombe 95%")
    reasons: dict[str, set[str]] = {}
    for row in unpaired.itertuples(index=False):
        if isinstance(row.unpaired_because, str):
            reasons.setdefault(row.unpaired_because, set()).add(_name(row, shows_backend(frame)).partition("[")[0])
    for reason, combinations in reasons.items():
        lines.append(f"unpaired ({_plural(len(combinations), 'combination')}): {reason}")
    return lines


def _across(frame: Any) -> bool:
    return any(isinstance(b, str) and " vs " in b for b in frame["backend"])


def _tests_named(compared: Any) -> str:
    """The tests behind the verdicts, for the summary line."""
    paired = int((compared["test"] == PAIRED).sum())
    if not paired:
        return f"two-proportion z-test, p<{ALPHA:g}"
    if paired == len(compared):
        return f"McNemar's exact test, Holm-adjusted, p<{ALPHA:g}"
    return f"McNemar's exact test, Holm-adjusted, for {paired}, two-proportion z-test for {len(compared) - paired}, " \
           f"p<{ALPHA:g}"


def _summary(frame: Any) -> str:
    compared = frame[frame["change_points"].notna()]
    counts = {v: int((compared["verdict"] == v).sum()) for v in ("better", "worse", "same (within noise)")}
    text = (f"{len(compared)} compared: {counts['better']} better, {counts['worse']} worse, "
            f"{counts['same (within noise)']} within noise ({_tests_named(compared)})")
    if len(compared):
        worst = compared.loc[compared["change_points"].idxmin()]
        if worst["change_points"] < 0:
            text += f"; largest drop {worst['change_points']:+.1f} points ({_name(worst, shows_backend(frame))})"
    return text


def write_csv(frame: Any, path: Path) -> None:
    """The comparison as CSV, one line per row of the table, with every column of :data:`COLUMNS` (the test
    each row used, McNemar's counts and p-values, why a row is unpaired); a place that cannot take it is a
    :class:`harness.store.StoreError` naming the file."""
    from harness.store import write_atomic

    write_atomic(path, lambda handle: frame.to_csv(handle, index=False))


def compare_runs(run_a: Path, run_b: Path, fail_on_drop: float | None, out: IO[str],
                 csv: Path | None = None) -> ExitCode:
    from harness.store import RunStore

    if fail_on_drop is not None and (math.isnan(fail_on_drop) or fail_on_drop < 0):
        raise UsageError(f"--fail-on-drop: invalid value {fail_on_drop!r}: expected points >= 0, e.g. 2")
    store_a, store_b = RunStore.open(run_a), RunStore.open(run_b)
    records_a, records_b = store_a.records(), store_b.records()
    frame = compare_frame(records_a, records_b, store_a.run_dir, store_b.run_dir)
    out.write(f"A: {run_a}\nB: {run_b}\n")
    across = across_backends(records_a, records_b)
    if across:
        out.write(f"backends: A on {across[0]}, B on {across[1]}: each combination compared across the two "
                  "backends\n")
    if frame.empty:
        out.write("nothing to compare: neither run has a finished task\n")
        return ExitCode.NO_COMBINATIONS
    out.write(text_table(frame))
    if csv is not None:
        write_csv(frame, csv)
    out.writelines(f"{line}\n" for line in _test_used(frame))
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
    csv = Path(config.cwd) / option.csv if option.csv else None
    return compare_runs(Path(option.run_a), Path(option.run_b), option.fail_on_drop, sys.stdout, csv)
