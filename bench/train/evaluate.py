"""Evaluation of a recommender on the validation or test targets, by full ranking or sampled candidates.

Usage:
    values = evaluate(model, split, "test")                                  # full ranking, HR/NDCG/MRR @5/10/20
    values = evaluate(model, split, "valid", protocol="pop100", seed=0)      # target among 100 popular negatives
    values = evaluate(model, split, "test", exclude_seen=True)               # items seen before the target removed

Protocols: ``full`` ranks the target against every item (the default; RecBole's sequential setting); ``uni100``
against 100 negatives drawn uniformly from the items the user never interacted with; ``pop100`` against 100
negatives drawn in proportion to their interaction count in the whole data set, as RecBole's popularity sampler
does (the official LinRec config's setting). The negatives
depend only on ``seed`` and the data, so every model evaluated with one seed faces the same candidates.
``exclude_seen`` (full ranking only, off by default) removes items that occur earlier in the user's history, except
the target itself. Sampled and full-ranking numbers are not comparable: the protocol is written into every row.
"""
from __future__ import annotations

from collections import defaultdict

import torch

from .batches import LeaveOneOut, batch_order, evaluation_inputs, gather_windows, ranges_to_index
from .config import check_protocol
from .metrics import KS, ranking_metrics, sample_negatives, target_ranks

SAMPLED_NEGATIVES = 100


def items_mask(split: LeaveOneOut, starts: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Usage: items_mask(split, starts, lengths) -> (B, num_items) bool, True for each item id in row b's range."""
    mask = torch.zeros(len(starts), split.num_items, dtype=torch.bool)
    rows = torch.repeat_interleave(torch.arange(len(starts)), lengths)
    mask[rows, split.items[ranges_to_index(starts, lengths)] - 1] = True
    return mask


def candidate_ranks(scores, target_columns, excluded, protocol, generator, popularity) -> torch.Tensor:
    """Usage: candidate_ranks(...) -> (B,) ranks of the target among its sampled candidates."""
    weights = popularity if protocol == "pop100" else None
    negatives = sample_negatives(excluded, SAMPLED_NEGATIVES, generator, weights)  # (B, 100)
    candidates = torch.cat([target_columns[:, None], negatives], 1)  # (B, 101), the target first
    return target_ranks(scores.gather(1, candidates), torch.zeros_like(target_columns))


@torch.no_grad()
def evaluate(model, split: LeaveOneOut, which: str, *, protocol: str = "full", exclude_seen: bool = False,
             ks=KS, batch_size: int = 1024, seed: int = 0, device="cpu") -> dict[str, float]:
    """Usage: see the module docstring. Returns the mean of each metric over the users of ``split``."""
    check_protocol(protocol, exclude_seen)
    model.eval()
    inputs = evaluation_inputs(split, which, model.history_len)
    generator = torch.Generator().manual_seed(seed)
    popularity = torch.bincount(split.items - 1, minlength=split.num_items)  # over all interactions, as RecBole
    sums = defaultdict(float)
    for index in batch_order(split.num_users, batch_size, None):
        lengths = inputs["lengths"][index]
        item_seq = gather_windows(split.items, inputs["starts"][index], lengths, model.max_len)  # (B, max_len)
        padded = bool((lengths + model.max_len - model.history_len < model.max_len).any())  # known on the host
        scores = model.predict(item_seq.to(device), lengths.to(device), padded).float().cpu()  # (B, num_items)
        target_columns = inputs["target"][index] - 1
        if protocol == "full":
            if exclude_seen:
                seen = items_mask(split, inputs["history_starts"][index], inputs["history_lengths"][index])
                seen[torch.arange(len(index)), target_columns] = False
                scores = scores.masked_fill(seen, float("-inf"))
            ranks = target_ranks(scores, target_columns)
        else:
            excluded = items_mask(split, split.starts[index], split.lengths[index])  # everything the user touched
            ranks = candidate_ranks(scores, target_columns, excluded, protocol, generator, popularity)
        for name, values in ranking_metrics(ranks, ks).items():
            sums[name] += float(values.sum())
    return {name: total / split.num_users for name, total in sums.items()}
