import numpy as np
from scipy import sparse

from pantau_triage.matching.sparse_top_k import top_1, top_k_per_row


def _scores() -> sparse.csr_matrix:
    dense = np.array([[0.0, 0.2, 0.9, 0.1], [0.0, 0.0, 0.0, 0.0], [0.5, 0.0, 0.3, 0.7]])
    return sparse.csr_matrix(dense)


def test_top_1_per_row_with_empty_rows():
    columns, values = top_1(_scores())
    assert columns.tolist() == [2, -1, 3]
    assert np.allclose(values, [0.9, 0.0, 0.7])


def test_top_k_per_row_is_sorted_and_bounded():
    rows = list(top_k_per_row(_scores(), 2))
    assert [columns.tolist() for columns, _ in rows] == [[2, 1], [], [3, 0]]
    assert np.allclose(rows[2][1], [0.7, 0.5])
