"""The synthetic generator: valid, deterministic, the lengths asked for, learnable order, and fast for long users."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.data import make_synthetic


def test_same_seed_same_data_other_seed_other_data():
    first, again, other = make_synthetic(seed=3), make_synthetic(seed=3), make_synthetic(seed=4)
    assert np.array_equal(first.items, again.items) and np.array_equal(first.offsets, again.offsets)
    assert not np.array_equal(first.items[:200], other.items[:200])


@pytest.mark.parametrize("distribution", ["lognormal", "fixed", "uniform"])
def test_lengths_follow_the_distribution_within_bounds(distribution):
    data = make_synthetic(num_users=2000, num_items=100, mean_length=40, max_length=120,
                          length_distribution=distribution)
    lengths = data.lengths()
    assert lengths.min() >= 5 and lengths.max() <= 120
    assert data.items.min() >= 1 and data.items.max() <= 100 and data.num_items == 100
    if distribution == "fixed":
        assert (lengths == 40).all()
    elif distribution == "uniform":
        assert abs(lengths.mean() - 40) < 2 and lengths.max() == 75
    else:
        assert np.median(lengths) < lengths.mean() and lengths.max() == 120   # heavy tail, clipped


def successor_and_popularity_hit_rates(data) -> tuple[float, float]:
    """Next-item hit rate on each user's last item: the last-but-one item's most frequent successor vs the
    most popular item, both counted on the first 80% of every sequence."""
    lengths = data.lengths()
    position = np.arange(data.items.size) - np.repeat(data.offsets[:-1], lengths)
    cut = np.repeat((lengths * 0.8).astype(np.int64), lengths)
    pair = (position + 1 < cut)[:-1]                      # both items of the pair inside the user's first 80%
    pairs = pd.DataFrame({"prev": data.items[:-1][pair], "next": data.items[1:][pair]})
    best = pairs.value_counts().reset_index().drop_duplicates("prev").set_index("prev")["next"]
    last, before_last = data.items[data.offsets[1:] - 1], data.items[data.offsets[1:] - 2]
    predicted = best.reindex(before_last).to_numpy()
    popular = np.bincount(data.items[position < cut]).argmax()
    return float((predicted == last).mean()), float((last == popular).mean())


def test_order_is_learnable_successors_beat_popularity():
    data = make_synthetic(num_users=1000, num_items=300, mean_length=40, max_length=100, seed=1)
    successor, popularity = successor_and_popularity_hit_rates(data)
    assert successor - popularity > 0.1 and successor > 3 * popularity, (successor, popularity)


def test_two_users_of_ten_thousand_items():
    data = make_synthetic(num_users=2, num_items=5000, mean_length=10_000, max_length=10_000,
                          length_distribution="fixed")
    assert data.lengths().tolist() == [10_000, 10_000]
    assert len(np.unique(data.items)) > 1000  # a long walk, not a loop over a handful of items


@pytest.mark.parametrize("option,value", [
    ("num_users", 0), ("num_items", -3), ("mean_length", 3), ("mean_length", 500), ("max_length", 4),
    ("length_distribution", "pareto"), ("zipf_exponent", -1.0), ("transitions_per_item", 0),
    ("follow_probability", 1.5), ("num_topics", 0), ("drift", 2.0), ("num_users", True),
], ids=lambda v: str(v))
def test_bad_options_name_the_argument(option, value):
    with pytest.raises(ValueError, match=f"expected {option} to be "):
        make_synthetic(**{option: value})


def test_a_size_beyond_the_memory_available_is_one_line_before_any_allocation():
    with pytest.raises(ValueError, match=r"make_synthetic: about 100,000,000,000 interactions need about .* GiB, "
                                         r"more than the .* GiB available") as info:
        make_synthetic(num_users=10 ** 6, mean_length=10 ** 5, max_length=10 ** 6)
    assert "\n" not in str(info.value)

