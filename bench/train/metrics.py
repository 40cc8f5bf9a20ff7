"""Ranking metrics under leave-one-out: HR@K (= Recall@K with one target), NDCG@K and MRR@K, ties pessimistic.

Usage:
    ranks = target_ranks(scores, target_columns)     # scores: (B, C); target_columns: (B,) -> (B,) 0-based ranks
    values = ranking_metrics(ranks, ks=(5, 10, 20))  # {"hr@10": (B,), "ndcg@10": (B,), "mrr@10": (B,), ...}

The rank of the target is the number of other candidates scored at least as high as it (pessimistic ties): a
model that gives every item the same score ranks every target last, so it scores about 0, never about 1.
With one relevant item, HR@K = [rank < K], NDCG@K = 1 / log2(rank + 2) and MRR@K = 1 / (rank + 1) when rank < K.
"""
from __future__ import annotations

import torch

KS = (5, 10, 20)
METRICS = ("hr", "ndcg", "mrr")


class NonFiniteScores(ValueError):
    """The model scored items NaN: its weights diverged, and no rank means anything."""


def target_ranks(scores: torch.Tensor, target_columns: torch.Tensor) -> torch.Tensor:
    """Usage: target_ranks(scores (B, C), target_columns (B,)) -> (B,) int64 pessimistic 0-based ranks."""
    if torch.isnan(scores).any():
        raise NonFiniteScores("the model produced NaN scores; ranks would be meaningless")
    target_scores = scores.gather(1, target_columns[:, None])  # (B, 1)
    return (scores >= target_scores).sum(1) - 1  # every tie counts as ranked above the target


def ranking_metrics(ranks: torch.Tensor, ks=KS) -> dict[str, torch.Tensor]:
    """Usage: ranking_metrics(ranks, (10,)) -> {"hr@10": (B,), "ndcg@10": (B,), "mrr@10": (B,)} per-user values."""
    ranks = ranks.double()
    values = {}
    for k in ks:
        hit = ranks < k
        values[f"hr@{k}"] = hit.double()
        values[f"ndcg@{k}"] = torch.where(hit, 1.0 / torch.log2(ranks + 2), 0.0)
        values[f"mrr@{k}"] = torch.where(hit, 1.0 / (ranks + 1), 0.0)
    return values


def sample_negatives(excluded: torch.Tensor, count: int, generator: torch.Generator,
                     weights: torch.Tensor | None = None) -> torch.Tensor:
    """Usage: sample_negatives(excluded (B, n) bool, 100, gen, weights=None) -> (B, 100) distinct item columns,
    never an excluded one; uniform without ``weights``, else proportional to them (popularity sampling)."""
    B, n = excluded.shape
    probs = torch.ones(n) if weights is None else weights.double().clamp(min=0)
    probs = probs.expand(B, n).clone()
    probs[excluded] = 0
    available = int((probs > 0).sum(1).min()) if B else count
    if available < count:
        raise ValueError(f"cannot sample {count} negatives: a user has only {available} candidate items left "
                         f"(the catalogue is too small for this protocol; use full ranking)")
    return torch.multinomial(probs, count, replacement=False, generator=generator)
