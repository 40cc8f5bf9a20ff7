"""The per-sequence path of objective ``last``: the same (prefix, next item) pairs as one window per prefix, the same
per-pair losses under causal attention, and refused or not chosen where it would not be the same."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from bench.results import read_rows
from bench.train import TrainConfig, train
from bench.train.batches import LeaveOneOut, make_batch, pair_batches, training_windows, window_pairs
from models.backbones import build_model
from tests.conftest import cyclic_data, sequence_data

N = 6


@pytest.fixture
def split():
    lengths = [3, 4, 8, 9, 15, 20]  # shorter and longer than N + 2 (training length = length - 2)
    sequences = [[(u + k) % 11 + 1 for k in range(n)] for u, n in enumerate(lengths)]
    return LeaveOneOut.from_data(sequence_data(sequences, 11))


def pairs_per_prefix(split):
    """{target position: (window start, window length)} of the per-prefix path."""
    starts, lengths = training_windows(split, "last", N)
    return {int(s + n): (int(s), int(n)) for s, n in zip(starts, lengths)}


def pairs_one_pass(split):
    """The same map read off the per-sequence windows: position j of a window predicts start + j + 1 from the
    window's first j + 1 items."""
    starts, lengths, loss_from = training_windows(split, "last", N, one_pass=True)
    pairs = {}
    for s, n, first in zip(starts.tolist(), lengths.tolist(), loss_from.tolist()):
        for j in range(first, n):
            assert s + j + 1 not in pairs, "a pair is a target twice"
            pairs[s + j + 1] = (s, j + 1)
    return pairs


def test_one_pass_windows_hold_exactly_the_per_prefix_pairs(split):
    assert pairs_one_pass(split) == pairs_per_prefix(split)
    starts, _, _ = training_windows(split, "last", N, one_pass=True)
    assert len(starts) < len(pairs_per_prefix(split))  # fewer windows: the point of the path


def test_batches_carry_targets_only_where_a_loss_belongs(split):
    samples = training_windows(split, "last", N, one_pass=True)
    batch = make_batch(split, samples, torch.arange(len(samples[0])), "last", N)
    target = batch["target"]
    assert target.shape == (len(samples[0]), N)
    positions = torch.arange(N)[None, :]
    carries = (positions >= samples[2][:, None]) & (positions < samples[1][:, None])
    assert torch.equal(target > 0, carries)


def trained_pairs(split, samples, batch_size, seed=0):
    """Per batch, the target positions (in the flat item array) that carry a loss."""
    batches = []
    for index, first, stop in pair_batches(window_pairs(samples), batch_size, torch.Generator().manual_seed(seed)):
        batch = make_batch(split, samples, index, "last", N, targets=(first, stop))
        if batch["target"].dim() == 1:
            batches.append(sorted((samples[0][index] + samples[1][index]).tolist()))
        else:
            where = batch["target"] > 0
            batches.append(sorted((samples[0][index][:, None] + torch.arange(N)[None, :] + 1)[where].tolist()))
    return batches


@pytest.mark.parametrize("batch_size", [1, 4, 7, 500], ids=lambda b: f"batch{b}")
def test_both_paths_take_the_same_steps_over_the_same_pairs(split, batch_size):
    per_prefix = trained_pairs(split, training_windows(split, "last", N), batch_size)
    per_sequence = trained_pairs(split, training_windows(split, "last", N, one_pass=True), batch_size)
    total = len(pairs_per_prefix(split))
    assert len(per_prefix) == len(per_sequence) == -(-total // batch_size)  # steps per epoch
    assert [len(b) for b in per_prefix] == [len(b) for b in per_sequence]  # pairs per step
    assert all(len(b) == batch_size for b in per_sequence[:-1])
    for batches in (per_prefix, per_sequence):  # every pair once per epoch
        flat = [p for b in batches for p in b]
        assert sorted(flat) == sorted(pairs_per_prefix(split)) and len(set(flat)) == len(flat)


def test_one_pair_per_window_batches_like_a_shuffled_split():
    pairs = torch.ones(10, dtype=torch.long)
    batches = list(pair_batches(pairs, 4, torch.Generator().manual_seed(3)))
    order = torch.randperm(10, generator=torch.Generator().manual_seed(3))
    assert [b[0].tolist() for b in batches] == [c.tolist() for c in order.split(4)]
    assert all(b[1].eq(0).all() and b[2].eq(1).all() for b in batches)
    assert list(pair_batches(torch.ones(0, dtype=torch.long), 4, None)) == []


@pytest.mark.parametrize("attention", ["dot", "sdpa", "linrec_causal"])
def test_per_pair_losses_equal_the_per_prefix_losses(split, attention):
    torch.manual_seed(0)
    model = build_model("sasrec", num_items=split.num_items, attention=attention, max_len=N, hidden=16, heads=2,
                        inner=32, layers=2, dropout=0.0).double().eval()
    assert model.causal and model.mask_respected

    def losses(samples):
        batch = make_batch(split, samples, torch.arange(len(samples[0])), "last", N)
        h = model.encode(batch["item_seq"])  # (S, N, hidden)
        if batch["target"].dim() == 1:
            h, target = h[torch.arange(len(h)), batch["lengths"] - 1], batch["target"]
            keys = samples[0] + samples[1]
        else:
            where = batch["target"] > 0
            h, target = h[where], batch["target"][where]
            keys = (samples[0][:, None] + torch.arange(N)[None, :] + 1)[where]
        per_pair = F.cross_entropy(model.item_scores(h), target - 1, reduction="none")
        return dict(zip(keys.tolist(), per_pair.tolist()))

    with torch.no_grad():
        prefix = losses(training_windows(split, "last", N))
        one_pass = losses(training_windows(split, "last", N, one_pass=True))
    assert prefix.keys() == one_pass.keys()
    for key in prefix:
        assert one_pass[key] == pytest.approx(prefix[key], rel=1e-9, abs=1e-12)


TINY = dict(max_len=8, hidden=16, inner=32, heads=2, layers=1, batch_size=64, epochs=2, lr=5e-3)


@pytest.mark.parametrize("attention, wanted, ran", [
    ("dot", "auto", "per-sequence"), ("linrec_causal", "per-sequence", "per-sequence"),
    ("linrec", "auto", "per-prefix"), ("linrec_official", "auto", "per-prefix"), ("dot", "per-prefix", "per-prefix"),
], ids=["dot-auto", "linrec_causal-forced", "linrec-auto", "official-auto", "dot-per-prefix"])
def test_rows_say_which_path_ran_and_count_the_same_pairs(tmp_path, attention, wanted, ran):
    config = TrainConfig(attention=attention, last_path=wanted, **TINY)
    summary = train(config, cyclic_data(), tmp_path, dataset="cyclic", progress=False)
    rows = read_rows(tmp_path / "rows.jsonl")
    assert summary["status"] == "finished" and {r["path"] for r in rows} == {ran}
    pairs = {r["value"] for r in rows if r["metric"] == "pairs"}
    expected = len(training_windows(LeaveOneOut.from_data(cyclic_data()), "last", 8)[0])
    assert pairs == {expected}
    steps = [r["value"] for r in rows if r["metric"] == "steps"]
    assert steps == [-(-expected // TINY["batch_size"])] * TINY["epochs"]  # the same on every path
    evaluations = [r["value"] for r in rows if r["metric"] == "eval_time"]
    assert len(evaluations) == TINY["epochs"] and all(seconds > 0 for seconds in evaluations)


@pytest.mark.parametrize("options", [dict(attention="linrec"), dict(attention="linrec_official"),
                                     dict(model="bert4rec", attention="dot", objective="cloze")],
                         ids=["noncausal", "ignores-masks", "bert4rec"])
def test_forcing_the_per_sequence_path_where_it_differs_is_refused(tmp_path, options):
    config = TrainConfig(**{**TINY, "last_path": "per-sequence", **options})
    with pytest.raises(ValueError, match="per-sequence path needs"):
        train(config, cyclic_data(), tmp_path, dataset="cyclic", progress=False)
