"""Feeding decoded arrays to Keras: shuffled training batches, ordered evaluation batches, the same on every
backend. Backend-neutral (NumPy, and Keras' ``PyDataset`` on first use): the backends build their feeds on it,
and nothing here knows the engine.

Every feed shuffles and batches *indices*, and each batch gathers its rows straight from the ``uint8`` arrays
(memory maps of the decode-once cache, or in-memory arrays). Nothing is copied up front: ``from_tensor_slices``
on the images would copy the whole array into a tensor and a shuffle buffer would copy it again (about 650 MB
more resident memory for cats-vs-dogs at 160x160, measured by the former ``benchmarks/pipeline_throughput.py``), while a
gathered batch costs one 2.4 MB copy, tens of thousands of images per second, far above what training
consumes. Evaluation sets need no augmentation and are read in order.

The order of epoch ``e`` is :func:`epoch_order` ``(n, seed, e)``, a NumPy permutation: the same batches, in
the same order, for the same seed, whichever backend trains. TensorFlow reads it through ``tf.data``
(:mod:`harness.backends.tensorflow`: parallel gathers, prefetching); JAX and PyTorch through
:func:`batch_feed`, a ``keras.utils.PyDataset`` whose batches a background thread gathers ahead of the model
(:func:`batch_feed`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

#: Batches gathered ahead of the model.
PREFETCH_BATCHES = 2


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The order of the ``n`` training rows in epoch ``epoch`` (0-based) for ``seed``."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def batch_indices(n: int, batch_size: int, *, shuffle: bool, seed: int, epoch: int) -> list[np.ndarray]:
    """The row indices of each batch of one epoch (the last batch may be short)."""
    order = epoch_order(n, seed, epoch) if shuffle else np.arange(n)
    return [order[start:start + batch_size] for start in range(0, n, batch_size)]


def gather(images: np.ndarray, labels: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One batch: ``images[index]`` (``uint8`` and float32 as they are) and int32 labels. Rows are read in
    sorted order (sequential reads of a memory map) and put back in the order asked."""
    order = np.argsort(index, kind="stable")
    rows = np.asarray(images[index[order]])
    x = np.empty_like(rows)
    x[order] = rows
    if x.dtype not in (np.uint8, np.float32):
        x = x.astype(np.float32)
    return x, np.asarray(labels[index], dtype=np.int32)


class EpochIndices:
    """Each epoch's order, one epoch per call of :meth:`next_order` (what ``tf.data``'s ``from_generator``
    calls each time the dataset is iterated again)."""

    def __init__(self, n: int, batch_size: int, *, shuffle: bool, seed: int) -> None:
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.epoch = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def next_order(self) -> Iterator[np.ndarray]:
        """The next epoch's order of all the rows, as one array."""
        with self._lock:
            epoch, self.epoch = self.epoch, self.epoch + 1
        yield epoch_order(self.n, self.seed, epoch) if self.shuffle else np.arange(self.n)


def parallel_gathers() -> int:
    """Batches ``tf.data`` gathers at once: 2 on a small machine, up to 8 on a large one (half its cores).
    Gathering a batch of 32 images at 160x160 takes about 2 ms, so two calls in parallel already feed tens
    of thousands of images per second; more is for fast GPUs."""
    from harness.system import usable_cores

    return max(2, min(8, usable_cores() // 2))


def batch_feed(images: np.ndarray, labels: np.ndarray, batch_size: int, *, shuffle: bool, seed: int,
               transform: Any = None, prefetch: int = PREFETCH_BATCHES) -> Any:
    """A ``keras.utils.PyDataset`` of batches in :func:`epoch_order`, gathered by one background thread
    ``prefetch`` batches ahead (the class is made on first use, so that this module imports no Keras).

    Keras reads it in its own thread, one batch after the other (``workers=1``: Keras' threaded enqueuer was
    slower, see ``docs/benchmarks.md``). ``transform`` (a Keras layer: an augmentation the backend cannot
    compile into the training step) is applied to each batch, as float32, in training mode, before the
    model sees it."""
    return _feed_class()(images, labels, batch_size, shuffle=shuffle, seed=seed, transform=transform,
                         prefetch=prefetch)


class BatchFeedBase:
    """What :func:`batch_feed`'s class does, without Keras: :func:`_feed_class` puts it in front of
    ``keras.utils.PyDataset``. Batch ``i`` of the current epoch is gathered (or taken from the prefetched
    ones), and the next ``prefetch`` batches, into the next epoch if need be, are handed to the thread."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int, *, shuffle: bool, seed: int,
                 transform: Any, prefetch: int) -> None:
        super().__init__(workers=1, use_multiprocessing=False)  # type: ignore[call-arg]
        self.images, self.labels, self.batch_size = images, labels, batch_size
        self.shuffle, self.seed, self.transform, self.prefetch = shuffle, seed, transform, prefetch
        self.epoch = 0
        self._batches = batch_indices(len(labels), batch_size, shuffle=shuffle, seed=seed, epoch=0)
        self._pending: dict[tuple[int, int], Future[tuple[np.ndarray, np.ndarray]]] = {}
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="harness-feed") if prefetch else None

    @property
    def num_batches(self) -> int:
        return len(self._batches)

    def __len__(self) -> int:
        return len(self._batches)

    def _order(self, epoch: int) -> list[np.ndarray]:
        if epoch == self.epoch or not self.shuffle:
            return self._batches
        return batch_indices(len(self.labels), self.batch_size, shuffle=True, seed=self.seed, epoch=epoch)

    def _key(self, epoch: int, i: int) -> tuple[int, int]:
        return (epoch if self.shuffle else 0, i)  # unshuffled, every epoch has the same batches

    def _prefetch_after(self, i: int) -> None:
        """Hand the ``prefetch`` batches after batch ``i`` to the thread (those not handed to it yet)."""
        if self._pool is None:
            return
        n = len(self._batches)
        for ahead in range(1, self.prefetch + 1):
            epoch, j = self.epoch + (i + ahead) // n, (i + ahead) % n
            key = self._key(epoch, j)
            if key not in self._pending:
                self._pending[key] = self._pool.submit(gather, self.images, self.labels, self._order(epoch)[j])

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        future = self._pending.pop(self._key(self.epoch, i), None)
        x, y = future.result() if future is not None else gather(self.images, self.labels, self._batches[i])
        self._prefetch_after(i)
        if self.transform is not None:
            import keras

            x = self.transform(keras.ops.cast(x, "float32"), training=True)
        return x, y

    def on_epoch_end(self) -> None:
        if not self.shuffle:
            return
        self._batches = self._order(self.epoch + 1)
        self.epoch += 1
        self._pending = {key: f for key, f in self._pending.items() if key[0] >= self.epoch}

    def __del__(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


_FEED_CLASS: type | None = None


def _feed_class() -> type:
    """``BatchFeed``: :class:`BatchFeedBase` on ``keras.utils.PyDataset`` (made once, on first use)."""
    global _FEED_CLASS
    if _FEED_CLASS is None:
        import keras

        _FEED_CLASS = type("BatchFeed", (BatchFeedBase, keras.utils.PyDataset), {})
    return _FEED_CLASS
