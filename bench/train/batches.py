"""Leave-one-out split and training/evaluation batches, built with tensor operations only.

Usage:
    split = LeaveOneOut.from_data(data)                        # data: bench.data.SequenceData
    samples = training_windows(split, "last", history_len=50)  # every prefix of every training sequence
    for index, first, stop in pair_batches(window_pairs(samples), 512, generator):
        batch = make_batch(split, samples, index, "last", 50, targets=(first, stop))  # 512 (prefix, next) pairs
    inputs = evaluation_inputs(split, "test", history_len=50)  # one window per user, its target and history

Leave-one-out by time: each user's last item is the test target, the second-to-last the validation target and
the rest the training sequence; users with fewer than 3 items are dropped (counted in ``dropped_users``).
A window is (start, length) into the flat item array: the items ``items[start:start + length]``, right-padded
with 0 to the model's width, exactly RecBole's layout. Objectives:

- ``last``: one window per training prefix, cut to the most recent ``history_len`` items; target = next item.
  With ``one_pass=True`` (the per-sequence path, for a causal model whose attention honours masks) each user's
  first min(L - 1, N) items form one window with a target at every position: with positions counted from the
  start and causal attention, position j of that window sees exactly the prefix of length j + 1, so it holds the
  same (prefix, next item) pairs as those prefixes' own windows. Prefixes longer than N are cut at N, start
  later and so sit at other positions: they keep a window each, with the loss at its last position only.
  A batch holds ``batch_size`` (prefix, next item) pairs on either path (``pair_batches``): a per-sequence
  window can be split between two batches, each taking the loss at its own share of the window's positions, so
  both paths take the same optimizer steps over the same pairs per epoch.
- ``all``: the training sequence cut into consecutive windows of at most ``history_len`` inputs, each position's
  target the item after it, so every (context, next item) pair of the training data is a target exactly once.
- ``cloze``: the same consecutive windows; a random ``mask_ratio`` of positions (at least one) become [MASK]
  and are the targets (BERT4Rec).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .config import OBJECTIVES


def ranges_to_index(starts: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Usage: ranges_to_index(tensor([0, 10]), tensor([2, 3])) -> tensor([0, 1, 10, 11, 12])."""
    total = int(lengths.sum())
    owner = torch.repeat_interleave(torch.arange(len(lengths)), lengths)  # (total,)
    first = torch.cumsum(lengths, 0) - lengths  # where each range begins in the output
    return starts[owner] + torch.arange(total) - first[owner]


@dataclass(frozen=True)
class LeaveOneOut:
    items: torch.Tensor        # (nnz,) int64 item ids of the kept users, user after user, chronological
    starts: torch.Tensor       # (U,) where each user's sequence begins in ``items``
    lengths: torch.Tensor      # (U,) full sequence lengths (>= 3)
    num_items: int
    dropped_users: int

    @classmethod
    def from_data(cls, data, shuffle_train_seed: int | None = None) -> "LeaveOneOut":
        """Usage: LeaveOneOut.from_data(data, shuffle_train_seed=None). With a seed, the order of each training
        sequence is shuffled (validation and test targets stay last): the shuffled-order sanity check."""
        offsets, lengths = np.asarray(data.offsets), np.diff(np.asarray(data.offsets))
        keep = lengths >= 3
        starts = torch.as_tensor(offsets[:-1][keep])
        kept_lengths = torch.as_tensor(lengths[keep])
        items = torch.as_tensor(np.asarray(data.items))[ranges_to_index(starts, kept_lengths)]
        new_starts = torch.cumsum(kept_lengths, 0) - kept_lengths
        split = cls(items, new_starts, kept_lengths, int(data.num_items), int((~keep).sum()))
        return split if shuffle_train_seed is None else split.with_shuffled_training_order(shuffle_train_seed)

    @property
    def num_users(self) -> int:
        return len(self.starts)

    @property
    def train_lengths(self) -> torch.Tensor:
        return self.lengths - 2

    def train_items(self) -> torch.Tensor:
        """Usage: split.train_items() -> (n,) every item id in the training sequences (for popularity counts)."""
        return self.items[ranges_to_index(self.starts, self.train_lengths)]

    def with_shuffled_training_order(self, seed: int) -> "LeaveOneOut":
        position = ranges_to_index(self.starts, self.train_lengths)
        segment = torch.arange(len(self.items))  # positions outside training sequences stay where they are
        owner = torch.repeat_interleave(torch.arange(self.num_users), self.train_lengths)
        segment[position] = self.starts[owner]
        noise = torch.rand(len(self.items), generator=torch.Generator().manual_seed(seed))
        order = np.lexsort((noise.numpy(), segment.numpy()))  # by segment, then at random inside it
        return LeaveOneOut(self.items[torch.as_tensor(order)], self.starts, self.lengths, self.num_items,
                           self.dropped_users)


def one_pass_windows(split: LeaveOneOut, history_len: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Usage: starts, lengths, loss_from = one_pass_windows(split, 50): the per-sequence path of ``last`` (see the
    module docstring). ``loss_from`` is the first position of a window that carries a loss."""
    train = split.train_lengths
    first = (train - 1).clamp(max=history_len)  # inputs of each user's one window
    users = first > 0  # a training sequence of one item has no target
    extra = (train - 1 - history_len).clamp(min=0)  # prefixes longer than N, per user
    targets = ranges_to_index(split.starts + history_len + 1, extra)  # their target positions
    starts = torch.cat([split.starts[users], targets - history_len])
    lengths = torch.cat([first[users], torch.full_like(targets, history_len)])
    loss_from = torch.cat([torch.zeros_like(first[users]), torch.full_like(targets, history_len - 1)])
    return starts, lengths, loss_from


def training_windows(split: LeaveOneOut, objective: str, history_len: int, one_pass: bool = False):
    """Usage: starts, lengths = training_windows(split, "last", 50) -> two (S,) tensors, one window per sample;
    ``one_pass=True`` (objective ``last`` only) -> one_pass_windows(split, history_len)."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; valid: {', '.join(OBJECTIVES)}")
    if one_pass:
        if objective != "last":
            raise ValueError(f"the per-sequence path is a form of objective 'last', not {objective!r}")
        return one_pass_windows(split, history_len)
    train_lengths = split.train_lengths
    if objective == "last":  # one sample per target position p (the first item is never a target)
        users = torch.repeat_interleave(torch.arange(split.num_users), train_lengths - 1)
        targets = ranges_to_index(split.starts + 1, train_lengths - 1)
        starts = torch.maximum(split.starts[users], targets - history_len)
        return starts, targets - starts
    # all / cloze: consecutive windows counted back from the end of each training sequence
    span = history_len + 1 if objective == "all" else history_len  # items a window touches, inputs and targets
    step = span - 1 if objective == "all" else span
    usable = train_lengths - 1 if objective == "all" else train_lengths  # targets (all) or items (cloze) to cover
    count = torch.div(usable + step - 1, step, rounding_mode="floor")
    users = torch.repeat_interleave(torch.arange(split.num_users), count)
    k = torch.arange(len(users)) - torch.repeat_interleave(torch.cumsum(count, 0) - count, count)
    ends = split.starts[users] + train_lengths[users] - k * step  # exclusive end of the items the window touches
    starts = torch.maximum(split.starts[users], ends - span)
    lengths = ends - starts - (1 if objective == "all" else 0)  # inputs; for "all" the last item is target only
    return starts, lengths


def batch_order(num_samples: int, batch_size: int, generator: torch.Generator | None):
    """Usage: for index in batch_order(S, 512, gen): ... -> shuffled (B,) index tensors (in order without gen)."""
    order = torch.randperm(num_samples, generator=generator) if generator is not None else torch.arange(num_samples)
    return order.split(batch_size)


def window_pairs(samples) -> torch.Tensor:
    """Usage: window_pairs(training_windows(...)) -> (S,) the (prefix, next item) pairs each window carries: 1 per
    per-prefix window, ``length - loss_from`` per per-sequence window."""
    if len(samples) == 3:
        return samples[1] - samples[2]
    return torch.ones_like(samples[0])


def pair_batches(pairs: torch.Tensor, batch_size: int, generator: torch.Generator | None):
    """Usage: for index, first, stop in pair_batches(pairs, 512, gen): ... -> batches of ``batch_size`` pairs (the
    last one fewer). ``index`` (W,) names the windows, ``first``/``stop`` (W,) the share of each window's pairs the
    batch trains on, counted from the window's first pair. Windows come in a shuffled order (in order without gen);
    with one pair per window this is batch_order with first 0 and stop 1."""
    order = torch.randperm(len(pairs), generator=generator) if generator is not None else torch.arange(len(pairs))
    counts = pairs[order]
    ends = torch.cumsum(counts, 0)  # (S,) pairs up to and including each window, in the shuffled order
    begins = ends - counts
    total = int(ends[-1]) if len(ends) else 0
    for low in range(0, total, batch_size):
        high = min(low + batch_size, total)
        a = int(torch.searchsorted(ends, low, right=True))  # the first window ending after pair ``low``
        b = int(torch.searchsorted(begins, high))  # the first window beginning at or after pair ``high``
        yield (order[a:b], (low - begins[a:b]).clamp(min=0),
               torch.minimum(high - begins[a:b], counts[a:b]))


def gather_windows(items: torch.Tensor, starts: torch.Tensor, lengths: torch.Tensor, width: int) -> torch.Tensor:
    """Usage: gather_windows(items, starts, lengths, 50) -> (B, 50) right-padded item ids (0 = padding)."""
    if lengths.numel() and int(lengths.max()) > width:
        raise ValueError(f"a window of {int(lengths.max())} items does not fit the width {width}")
    offsets = torch.arange(width)
    valid = offsets[None, :] < lengths[:, None]  # (B, width)
    index = (starts[:, None] + offsets[None, :]).clamp(max=len(items) - 1)
    return torch.where(valid, items[index], 0)


def make_batch(split: LeaveOneOut, samples, index: torch.Tensor, objective: str, width: int,
               mask_ratio: float = 0.2, mask_token: int | None = None, generator=None, targets=None) -> dict:
    """Usage: make_batch(split, (starts, lengths), index, "all", 50) -> {"item_seq", "lengths", "target", "padded",
    "target_index"}: ``target`` is (B,) for ``last`` and (B, width) with 0 where no loss is taken for ``all``,
    ``cloze`` and the per-sequence path of ``last`` (samples with a third tensor, ``loss_from``). ``targets=(first,
    stop)`` from pair_batches keeps the loss at those of a per-sequence window's pairs only (default: all of them).
    ``padded`` and ``target_index`` are what the step needs to know on the host (see with_host_facts)."""
    return with_host_facts(_batch(split, samples, index, objective, width, mask_ratio, mask_token, generator,
                                  targets))


def with_host_facts(batch: dict) -> dict:
    """Usage: with_host_facts({"item_seq", "lengths", "target"}) -> the batch plus ``padded`` (whether a window
    holds padding) and, for (B, width) targets, ``target_index`` (the flat positions that
    carry a loss): read here, on the host, so a step on a GPU never waits for the device to learn them."""
    batch["padded"] = bool((batch["item_seq"] == 0).any())  # exactly what the model's padding mask would find
    if batch["target"].dim() == 2:
        batch["target_index"] = torch.nonzero(batch["target"].flatten() > 0).squeeze(1)  # (P,)
    return batch


def _batch(split, samples, index, objective, width, mask_ratio, mask_token, generator, targets) -> dict:
    starts, lengths = samples[0][index], samples[1][index]
    item_seq = gather_windows(split.items, starts, lengths, width)
    if objective == "last" and len(samples) == 3:
        target = gather_windows(split.items, starts + 1, lengths, width)  # (B, width)
        loss_from = samples[2][index]
        first, stop = targets if targets is not None else (torch.zeros_like(lengths), lengths - loss_from)
        positions = torch.arange(width)[None, :]
        kept = (positions >= (loss_from + first)[:, None]) & (positions < (loss_from + stop)[:, None])  # (B, width)
        return {"item_seq": item_seq, "lengths": lengths, "target": target.masked_fill(~kept, 0)}
    if objective == "last":
        return {"item_seq": item_seq, "lengths": lengths, "target": split.items[starts + lengths]}
    if objective == "all":
        return {"item_seq": item_seq, "lengths": lengths,
                "target": gather_windows(split.items, starts + 1, lengths, width)}
    real = item_seq > 0
    masked = (torch.rand(item_seq.shape, generator=generator) < mask_ratio) & real
    none_masked = ~masked.any(1)  # guarantee one target per window: mask its last item
    masked[none_masked, (lengths[none_masked] - 1).clamp(min=0)] = True
    masked &= real
    return {"item_seq": torch.where(masked, mask_token, item_seq), "lengths": lengths,
            "target": torch.where(masked, item_seq, 0)}


def evaluation_inputs(split: LeaveOneOut, which: str, history_len: int) -> dict:
    """Usage: evaluation_inputs(split, "valid", 50) -> {"starts", "lengths", "target", "history_starts",
    "history_lengths"}: each user's window of at most ``history_len`` items before the target, and the full
    history before the target (for excluding seen items)."""
    if which not in ("valid", "test"):
        raise ValueError(f"evaluation split must be 'valid' or 'test', got {which!r}")
    target_pos = split.starts + split.lengths - (2 if which == "valid" else 1)
    history_lengths = target_pos - split.starts
    lengths = history_lengths.clamp(max=history_len)
    return {"starts": target_pos - lengths, "lengths": lengths, "target": split.items[target_pos],
            "history_starts": split.starts, "history_lengths": history_lengths}
