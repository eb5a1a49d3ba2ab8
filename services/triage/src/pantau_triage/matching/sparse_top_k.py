"""Best entries per row of a sparse score matrix, without densifying its columns."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
from scipy import sparse

__all__ = ["top_1", "top_k_per_row"]


def top_1(scores: sparse.csr_matrix) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Column and value of each row's largest stored entry; column -1 and 0.0 for empty rows.

    Vectorised over all rows (one reduceat), so it costs O(stored entries), not O(rows x columns).
    Ties go to the entry stored first in the row.
    """
    n_rows = scores.shape[0]
    columns = np.full(n_rows, -1, dtype=np.int64)
    values = np.zeros(n_rows, dtype=np.float64)
    lengths = np.diff(scores.indptr)
    rows = np.flatnonzero(lengths)
    if rows.size == 0:
        return columns, values
    starts = scores.indptr[:-1][rows]
    row_max = np.maximum.reduceat(scores.data, starts)
    is_max = scores.data == np.repeat(row_max, lengths[rows])
    first_max = np.flatnonzero(is_max)
    positions = first_max[np.searchsorted(first_max, starts)]
    columns[rows] = scores.indices[positions]
    values[rows] = row_max
    return columns, values


def top_k_per_row(
    scores: sparse.csr_matrix, k: int
) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]:
    """Columns and values of each row's `k` largest stored entries, best first."""
    if k < 1:
        raise ValueError("k must be at least 1")
    if k == 1:
        columns, values = top_1(scores)
        for column, value in zip(columns, values, strict=True):
            if column < 0:
                yield np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
            else:
                yield np.array([column]), np.array([value])
        return
    for row in range(scores.shape[0]):
        start, end = scores.indptr[row], scores.indptr[row + 1]
        row_values = scores.data[start:end]
        row_columns = scores.indices[start:end]
        if end - start > k:
            keep = np.argpartition(-row_values, k - 1)[:k]
            row_values, row_columns = row_values[keep], row_columns[keep]
        order = np.lexsort((row_columns, -row_values))
        yield row_columns[order].astype(np.int64), row_values[order].astype(np.float64)
