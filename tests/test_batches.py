"""Leave-one-out split and batch construction against naive per-sample enumerations."""
import pytest
import torch

from bench.train.batches import (LeaveOneOut, evaluation_inputs, gather_windows, make_batch, ranges_to_index,
                                 training_windows)
from tests.conftest import sequence_data

SEQUENCES = [[1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 1], [9, 8, 7], [4, 4, 2, 5, 7, 1]]


@pytest.fixture
def split():
    return LeaveOneOut.from_data(sequence_data(SEQUENCES, 9))


def kept():
    return [s for s in SEQUENCES if len(s) >= 3]


def test_split_drops_short_users_and_places_targets(split):
    assert split.dropped_users == 1 and split.num_users == 3
    valid, test = evaluation_inputs(split, "valid", 50), evaluation_inputs(split, "test", 50)
    assert valid["target"].tolist() == [s[-2] for s in kept()]
    assert test["target"].tolist() == [s[-1] for s in kept()]
    assert split.train_items().tolist() == [i for s in kept() for i in s[:-2]]


def test_evaluation_window_is_the_most_recent_history(split):
    test = evaluation_inputs(split, "test", history_len=3)
    windows = gather_windows(split.items, test["starts"], test["lengths"], 4)
    assert windows.tolist() == [[6, 7, 8, 0], [9, 8, 0, 0], [2, 5, 7, 0]]
    assert test["history_lengths"].tolist() == [8, 2, 5]


@pytest.mark.parametrize("history_len", [1, 3, 50], ids=lambda n: f"N{n}")
def test_last_objective_enumerates_every_training_prefix(split, history_len):
    starts, lengths = training_windows(split, "last", history_len)
    batch = make_batch(split, (starts, lengths), torch.arange(len(starts)), "last", history_len)
    got = {(tuple(row[:n].tolist()), t) for row, n, t in zip(batch["item_seq"], batch["lengths"].tolist(),
                                                             batch["target"].tolist())}
    expected = {(tuple(s[:-2][max(0, p - history_len):p]), s[p]) for s in kept() for p in range(1, len(s) - 2)}
    assert got == expected and len(starts) == sum(len(s) - 3 for s in kept())


@pytest.mark.parametrize("history_len", [1, 2, 4, 50], ids=lambda n: f"N{n}")
def test_all_objective_targets_every_training_pair_once(split, history_len):
    starts, lengths = training_windows(split, "all", history_len)
    batch = make_batch(split, (starts, lengths), torch.arange(len(starts)), "all", history_len)
    pairs = []
    for row, target in zip(batch["item_seq"].tolist(), batch["target"].tolist()):
        for position, item in enumerate(target):
            if item:
                pairs.append((tuple(row[:position + 1]), item))
    targets = sorted(item for _, item in pairs)
    assert targets == sorted(i for s in kept() for i in s[1:-2])
    for context, item in pairs:  # each context is the items right before the target, at most N of them
        assert any(tuple(s[p - len(context):p]) == context and s[p] == item for s in kept()
                   for p in range(len(context), len(s) - 2))
    assert int(lengths.max()) <= history_len


def test_cloze_windows_cover_training_items_and_mask_at_least_one(split):
    starts, lengths = training_windows(split, "cloze", 2)
    covered = split.items[ranges_to_index(starts, lengths)].tolist()
    assert sorted(covered) == sorted(i for s in kept() for i in s[:-2])
    batch = make_batch(split, (starts, lengths), torch.arange(len(starts)), "cloze", 2, mask_ratio=0.01,
                       mask_token=10, generator=torch.Generator().manual_seed(0))
    masked = batch["item_seq"] == 10
    assert masked.any(1).all() and torch.equal(masked, batch["target"] > 0)


def test_shuffled_training_order_keeps_targets_and_items(split):
    shuffled = LeaveOneOut.from_data(sequence_data(SEQUENCES, 9), shuffle_train_seed=3)
    for which in ("valid", "test"):
        expected = evaluation_inputs(split, which, 9)["target"]
        assert torch.equal(evaluation_inputs(shuffled, which, 9)["target"], expected)
    assert sorted(shuffled.train_items().tolist()) == sorted(split.train_items().tolist())
    assert not torch.equal(shuffled.train_items(), split.train_items())
    again = LeaveOneOut.from_data(sequence_data(SEQUENCES, 9), shuffle_train_seed=3)
    assert torch.equal(again.items, shuffled.items)


def test_bad_arguments_are_clear(split):
    with pytest.raises(ValueError, match="unknown objective"):
        training_windows(split, "next", 5)
    with pytest.raises(ValueError, match="does not fit the width"):
        gather_windows(split.items, torch.tensor([0]), torch.tensor([5]), 4)
    with pytest.raises(ValueError, match="'valid' or 'test'"):
        evaluation_inputs(split, "train", 5)
