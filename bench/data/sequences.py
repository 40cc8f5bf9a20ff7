"""SequenceData: every user's chronological item sequence in one CSR pair of arrays; item 0 is padding.

Usage:
    data = SequenceData(name="toy", num_items=3, offsets=np.array([0, 2, 5]), items=np.array([1, 2, 3, 1, 2]),
                        user_ids=np.array(["a", "b"], dtype=object), item_ids=np.array([10, 20, 30]),
                        preprocessing={"source": "toy"})
    data.sequence(1)        # -> array([3, 1, 2]): user "b", oldest first
    data.lengths()          # -> array([2, 3])
    data.statistics()       # -> {"users": 2, "items": 3, "interactions": 5, "mean_length": 2.5, ...}
    data.content_sha256()   # -> hex SHA-256 of the sequences a model trains on (items, offsets, item count)
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from .errors import DataFormatError


@dataclass(frozen=True, eq=False)
class SequenceData:
    """Usage: SequenceData(name, num_items, offsets, items, user_ids, item_ids, preprocessing). Checked on creation.

    name:          e.g. "ml-100k", "synthetic", or the file stem
    num_items:     items are indexed 1..num_items; 0 is reserved for padding
    offsets:       (U+1,) int64, user u's chronological items are items[offsets[u]:offsets[u+1]]
    items:         (nnz,) int64, values in 1..num_items
    user_ids:      (U,) original user ids (str or int, as read), in the order of offsets
    item_ids:      (num_items,) original id of item index i+1
    preprocessing: what was done to get here (source, sha256, k-core, max_history, order, ...)
    """

    name: str
    num_items: int
    offsets: np.ndarray
    items: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    preprocessing: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_int64_vector(self.name, "offsets", self.offsets)
        check_int64_vector(self.name, "items", self.items)
        if not isinstance(self.num_items, (int, np.integer)) or self.num_items < 0:
            fail(self.name, f"expected num_items to be a non-negative int, found {self.num_items!r}")
        check_offsets(self.name, self.offsets, self.items.size)
        check_items(self.name, self.items, int(self.num_items))
        if len(self.user_ids) != self.offsets.size - 1:
            fail(self.name, f"expected {self.offsets.size - 1} user_ids (one per user), found {len(self.user_ids)}")
        if len(self.item_ids) != self.num_items:
            fail(self.name, f"expected {self.num_items} item_ids (one per item), found {len(self.item_ids)}")

    @property
    def num_users(self) -> int:
        """Usage: data.num_users -> U."""
        return self.offsets.size - 1

    def lengths(self) -> np.ndarray:
        """Usage: data.lengths() -> (U,) int64 sequence lengths."""
        return np.diff(self.offsets)

    def sequence(self, user: int) -> np.ndarray:
        """Usage: data.sequence(u) -> user u's item indices, oldest first (a view, do not modify)."""
        if not 0 <= user < self.num_users:
            raise IndexError(f"{self.name}: expected a user index in 0..{self.num_users - 1}, found {user}")
        return self.items[self.offsets[user]:self.offsets[user + 1]]

    def content_sha256(self) -> str:
        """Usage: data.content_sha256() -> hex digest of what training and evaluation read: the item count, the
        offsets and the items, in order. Two loads of the same data agree; any change to a sequence does not."""
        digest = hashlib.sha256(f"{int(self.num_items)}:{self.offsets.size}:".encode())
        digest.update(np.ascontiguousarray(self.offsets, dtype="<i8").tobytes())
        digest.update(np.ascontiguousarray(self.items, dtype="<i8").tobytes())
        return digest.hexdigest()

    def statistics(self) -> dict:
        """Usage: data.statistics() -> users, items, interactions, mean/median/max/min length, density."""
        lengths = self.lengths()
        users, interactions = self.num_users, int(self.items.size)
        cells = users * int(self.num_items)
        return {
            "users": users,
            "items": int(self.num_items),
            "interactions": interactions,
            "mean_length": float(lengths.mean()) if users else 0.0,
            "median_length": float(np.median(lengths)) if users else 0.0,
            "max_length": int(lengths.max()) if users else 0,
            "min_length": int(lengths.min()) if users else 0,
            "density": interactions / cells if cells else 0.0,
        }


def fail(name: str, message: str) -> None:
    """Usage: fail(name, "expected ..., found ...") raises DataFormatError("SequenceData 'name': ...")."""
    raise DataFormatError(f"SequenceData {name!r}: {message}")


def check_int64_vector(name: str, what: str, array) -> None:
    """Usage: check_int64_vector(name, "items", items): a 1-D numpy int64 array, or DataFormatError."""
    if not isinstance(array, np.ndarray) or array.dtype != np.int64 or array.ndim != 1:
        found = f"{array.dtype} array of shape {array.shape}" if isinstance(array, np.ndarray) else type(array).__name__
        fail(name, f"expected {what} to be a 1-D int64 numpy array, found {found}")


def check_offsets(name: str, offsets: np.ndarray, nnz: int) -> None:
    """Usage: check_offsets(name, offsets, items.size): starts at 0, never decreases, ends at nnz."""
    if offsets.size == 0 or offsets[0] != 0 or offsets[-1] != nnz:
        ends = f"{offsets[0]}..{offsets[-1]}" if offsets.size else "nothing"
        fail(name, f"expected offsets to run from 0 to {nnz} (the number of items), found {ends}")
    decreasing = np.flatnonzero(np.diff(offsets) < 0)
    if decreasing.size:
        first = decreasing[0]
        fail(name, f"expected non-decreasing offsets, found offsets[{first}]={offsets[first]} > "
                   f"offsets[{first + 1}]={offsets[first + 1]}")


def check_items(name: str, items: np.ndarray, num_items: int) -> None:
    """Usage: check_items(name, items, num_items): every item index in 1..num_items (0 is padding)."""
    bad = np.flatnonzero((items < 1) | (items > num_items))
    if bad.size:
        fail(name, f"expected item indices in 1..{num_items}, found {items[bad[0]]} at position {bad[0]}")
