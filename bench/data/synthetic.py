"""Synthetic sequences with learnable structure, fast enough for users with 10,000+ items.

Usage:
    data = make_synthetic(num_users=1000, num_items=2000, mean_length=50, max_length=200, seed=0)
    long = make_synthetic(num_users=2, mean_length=10_000, max_length=10_000, length_distribution="fixed")

The world: items belong to topics; each item has `transitions_per_item` successors from its own topic, with
weights 1, 1/2, 1/3, ... Each user has a current topic that changes with probability `drift` per step
(interest drift). The next item is, with probability `follow_probability`, a successor of the current item,
otherwise an item of the user's current topic drawn by global Zipf popularity (weight rank ** -zipf_exponent).
So "the most frequent successor of the last item" beats "the most popular item" by a wide margin.
All random draws are made up front and vectorised; only the successor chain advances one step at a time,
for all still-active users at once. Deterministic for a seed.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..machine import available_mib
from .sequences import SequenceData

LENGTH_DISTRIBUTIONS = ("lognormal", "fixed", "uniform")
MIN_LENGTH = 5
LOGNORMAL_SIGMA = 1.0  # mean / median = exp(sigma**2 / 2) ~ 1.65, close to ML-1M's 165 / 96
BYTES_PER_INTERACTION = 96  # peak memory while generating: 64 measured for 4 million interactions, plus a margin


class World(NamedTuple):
    topic_of_item: np.ndarray      # (N + 1,) topic of item index i (row 0 unused)
    items_by_topic: np.ndarray     # (N,) item indices 1..N grouped by topic
    topic_bounds: np.ndarray       # (T + 1,) topic t's items are items_by_topic[bounds[t]:bounds[t+1]]
    cumulative: np.ndarray         # (N,) cumulative popularity in items_by_topic order
    successors: np.ndarray         # (N + 1, k) successor item indices of item i (row 0 unused)
    successor_weights: np.ndarray  # (k,) probabilities of picking successor 0..k-1


def check_synthetic_options(num_users, num_items, mean_length, max_length, length_distribution, zipf_exponent,
                            transitions_per_item, follow_probability, num_topics, drift) -> None:
    """Usage: check_synthetic_options(...) raises a one-line ValueError naming the first bad argument."""
    rules = [
        ("num_users", num_users, isinstance(num_users, int) and num_users >= 1, "an integer >= 1"),
        ("num_items", num_items, isinstance(num_items, int) and num_items >= 1, "an integer >= 1"),
        ("max_length", max_length, isinstance(max_length, int) and max_length >= MIN_LENGTH,
         f"an integer >= {MIN_LENGTH}"),
        ("mean_length", mean_length, isinstance(mean_length, (int, float)) and isinstance(max_length, int)
         and MIN_LENGTH <= mean_length <= max_length, f"a number in [{MIN_LENGTH}, max_length={max_length}]"),
        ("length_distribution", length_distribution, length_distribution in LENGTH_DISTRIBUTIONS,
         f"one of {', '.join(LENGTH_DISTRIBUTIONS)}"),
        ("zipf_exponent", zipf_exponent, isinstance(zipf_exponent, (int, float)) and 0 <= zipf_exponent <= 10,
         "a number in [0, 10]"),
        ("transitions_per_item", transitions_per_item,
         isinstance(transitions_per_item, int) and transitions_per_item >= 1, "an integer >= 1"),
        ("follow_probability", follow_probability,
         isinstance(follow_probability, (int, float)) and 0 <= follow_probability <= 1, "a number in [0, 1]"),
        ("num_topics", num_topics, isinstance(num_topics, int) and num_topics >= 1, "an integer >= 1"),
        ("drift", drift, isinstance(drift, (int, float)) and 0 <= drift <= 1, "a number in [0, 1]"),
    ]
    for name, value, ok, expected in rules:
        if not ok or isinstance(value, bool):
            raise ValueError(f"make_synthetic: expected {name} to be {expected}, found {value!r}")


def check_fits_in_memory(interactions: float, item_values: int) -> None:
    """Usage: check_fits_in_memory(num_users * mean_length, num_items * (transitions_per_item + 4)). A one-line
    ValueError when generating that many interactions (about BYTES_PER_INTERACTION each) and the item tables
    (``item_values`` values of 8 bytes) would need more memory than is available now."""
    need, available = interactions * BYTES_PER_INTERACTION + item_values * 8, available_mib() * 2 ** 20
    if available and need > available:
        raise ValueError(f"make_synthetic: about {interactions:,.0f} interactions need about {need / 2**30:.1f} GiB, "
                         f"more than the {available / 2**30:.1f} GiB available; use fewer users or items, or shorter "
                         f"sequences")


def draw_lengths(rng: np.random.Generator, num_users: int, mean_length: float, max_length: int,
                 distribution: str) -> np.ndarray:
    """Usage: draw_lengths(rng, 100, 50, 200, "lognormal") -> (100,) int64 lengths in [5, max_length]."""
    if distribution == "fixed":
        lengths = np.full(num_users, round(mean_length))
    elif distribution == "uniform":
        lengths = rng.integers(MIN_LENGTH, max(MIN_LENGTH, round(2 * mean_length) - MIN_LENGTH) + 1, num_users)
    else:
        mu = np.log(mean_length) - LOGNORMAL_SIGMA ** 2 / 2
        lengths = np.round(rng.lognormal(mu, LOGNORMAL_SIGMA, num_users))
    return np.clip(lengths, MIN_LENGTH, max_length).astype(np.int64)


def sample_in_topics(rng: np.random.Generator, world: World, topics: np.ndarray) -> np.ndarray:
    """Usage: sample_in_topics(rng, world, topics) -> one item per entry of `topics`, by popularity in that topic."""
    start, end = world.topic_bounds[topics], world.topic_bounds[topics + 1]
    below = np.where(start > 0, world.cumulative[np.maximum(start - 1, 0)], 0.0)
    targets = below + rng.random(topics.size) * (world.cumulative[end - 1] - below)
    picked = np.searchsorted(world.cumulative, targets, side="right")
    return world.items_by_topic[np.clip(picked, start, end - 1)]


def make_world(rng: np.random.Generator, num_items: int, num_topics: int, zipf_exponent: float,
               transitions_per_item: int) -> World:
    """Usage: make_world(rng, 2000, 20, 1.0, 4) -> World: topics, Zipf popularity and successor lists."""
    num_topics = min(num_topics, num_items)
    topic_of_item = np.concatenate(([0], rng.permutation(np.arange(num_items) % num_topics)))
    items_by_topic = np.argsort(topic_of_item[1:], kind="stable") + 1
    topic_bounds = np.searchsorted(topic_of_item[items_by_topic], np.arange(num_topics + 1))
    popularity = (rng.permutation(num_items) + 1.0) ** -zipf_exponent   # popularity of item index i+1
    cumulative = np.cumsum(popularity[items_by_topic - 1])
    weights = 1.0 / np.arange(1, transitions_per_item + 1)
    world = World(topic_of_item, items_by_topic, topic_bounds, cumulative, successors=np.zeros(0, np.int64),
                  successor_weights=weights / weights.sum())
    topics = np.repeat(topic_of_item[1:], transitions_per_item)
    successors = sample_in_topics(rng, world, topics).reshape(num_items, transitions_per_item)
    return world._replace(successors=np.vstack([np.zeros((1, transitions_per_item), np.int64), successors]))


def draw_topics(rng: np.random.Generator, starts: np.ndarray, nnz: int, num_topics: int, drift: float) -> np.ndarray:
    """Usage: draw_topics(rng, starts, nnz, 20, 0.02) -> (nnz,) topic at each position; a new random topic at
    each user's start and, with probability `drift`, at any later step."""
    change = rng.random(nnz) < drift
    change[starts] = True
    last_change = np.maximum.accumulate(np.where(change, np.arange(nnz), 0))
    return rng.integers(num_topics, size=nnz)[last_change]


def walk(world: World, starts: np.ndarray, lengths: np.ndarray, follow: np.ndarray, choice: np.ndarray,
         popular: np.ndarray) -> np.ndarray:
    """Usage: walk(world, starts, lengths, follow, choice, popular) -> (nnz,) items. Step t advances every user
    longer than t: a followed step takes successor `choice` of the previous item, others take `popular`."""
    items = popular.copy()
    by_length = np.argsort(-lengths, kind="stable")
    starts_by_length = starts[by_length]
    active_counts = np.searchsorted(-lengths[by_length], -np.arange(1, lengths.max() + 1), side="left")
    for step in range(1, int(lengths.max())):
        here = starts_by_length[:active_counts[step]] + step
        chained = world.successors[items[here - 1], choice[here]]
        items[here] = np.where(follow[here], chained, popular[here])
    return items


def make_synthetic(num_users: int = 1000, num_items: int = 2000, mean_length: float = 50, max_length: int = 200, *,
                   length_distribution: str = "lognormal", zipf_exponent: float = 1.0, transitions_per_item: int = 4,
                   follow_probability: float = 0.7, num_topics: int = 20, drift: float = 0.02,
                   seed: int = 0) -> SequenceData:
    """Usage: make_synthetic(num_users=1000, num_items=2000, mean_length=50, max_length=200, seed=0) -> SequenceData.

    Lengths: "lognormal" (heavy tail, mean about mean_length before clipping), "fixed" or "uniform" in
    [5, 2 * mean_length - 5], clipped to [5, max_length]. User ids are 0..U-1, item ids 1..N (= item indices).
    """
    check_synthetic_options(num_users, num_items, mean_length, max_length, length_distribution, zipf_exponent,
                            transitions_per_item, follow_probability, num_topics, drift)
    check_fits_in_memory(num_users * mean_length, num_items * (transitions_per_item + 4))
    rng = np.random.default_rng(seed)
    world = make_world(rng, num_items, num_topics, zipf_exponent, transitions_per_item)
    lengths = draw_lengths(rng, num_users, mean_length, max_length, length_distribution)
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    nnz, starts = int(offsets[-1]), offsets[:-1]
    topics = draw_topics(rng, starts, nnz, world.topic_bounds.size - 1, drift)
    popular = sample_in_topics(rng, world, topics)
    follow = rng.random(nnz) < follow_probability
    choice = rng.choice(transitions_per_item, size=nnz, p=world.successor_weights)
    items = walk(world, starts, lengths, follow, choice, popular)
    options = {"num_users": num_users, "num_items": num_items, "mean_length": mean_length, "max_length": max_length,
               "length_distribution": length_distribution, "zipf_exponent": zipf_exponent,
               "transitions_per_item": transitions_per_item, "follow_probability": follow_probability,
               "num_topics": num_topics, "drift": drift, "seed": seed}
    return SequenceData(name="synthetic", num_items=num_items, offsets=offsets, items=items.astype(np.int64),
                        user_ids=np.arange(num_users), item_ids=np.arange(1, num_items + 1),
                        preprocessing={"source": "synthetic", "generator": options, "order": "generated",
                                       "duplicates": "kept"})
