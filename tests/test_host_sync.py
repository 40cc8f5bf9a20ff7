"""No host synchronisation inside a model's forward or a training step. On a GPU, reading a tensor's value on the
host (bool(), int(), .item(), boolean-mask indexing, nonzero) waits for the device; here, without one, a torch
function mode records every such read while the step runs on CPU tensors, which are where the GPU's would be."""
from __future__ import annotations

import pytest
import torch
from torch.overrides import TorchFunctionMode

from bench.train.batches import LeaveOneOut, make_batch, pair_batches, training_windows, window_pairs
from bench.train.loop import compute_loss, to_device
from models.backbones import build_model
from tests.conftest import cyclic_data

READS = {"__bool__", "__int__", "__float__", "__index__", "item", "tolist", "nonzero", "masked_select", "any_"}


class HostReads(TorchFunctionMode):
    """Records the torch calls that read a tensor's value back to the host."""

    def __init__(self):
        super().__init__()
        self.reads = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        index = args[1] if name in ("__getitem__", "__setitem__") and len(args) > 1 else ()
        index = index if isinstance(index, tuple) else (index,)
        if name in READS or any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in index):
            self.reads.append(name)
        return func(*args, **(kwargs or {}))


def batch_for(model, objective, last_path="per-prefix", width=10):
    split = LeaveOneOut.from_data(cyclic_data(users=12, low=4, high=30))
    samples = training_windows(split, objective, width, one_pass=last_path == "per-sequence")
    index, first, stop = next(iter(pair_batches(window_pairs(samples), 16, torch.Generator().manual_seed(0))))
    batch = make_batch(split, samples, index, objective, width, 0.3, getattr(model, "mask_token", None),
                       torch.Generator().manual_seed(1), targets=(first, stop))
    assert batch["padded"], "the fixture's windows must hold padding"
    return batch


STEPS = [pytest.param("sasrec", "dot", "last", "per-prefix", "ce", id="sasrec-dot-last"),
         pytest.param("sasrec", "linrec_causal", "last", "per-sequence", "ce", id="sasrec-causal-per-sequence"),
         pytest.param("sasrec", "linrec", "last", "per-prefix", "bce", id="sasrec-linrec-bce"),
         pytest.param("sasrec", "sdpa", "all", "per-prefix", "ce", id="sasrec-sdpa-all"),
         pytest.param("bert4rec", "linrec", "cloze", "per-prefix", "ce", id="bert4rec-cloze")]


def small_model(name, attention):
    torch.manual_seed(0)
    return build_model(name, num_items=20, attention=attention, max_len=10, hidden=16, heads=2, inner=32, layers=1)


@pytest.mark.parametrize("name, attention, objective, last_path, loss", STEPS)
def test_a_training_step_never_reads_the_device(name, attention, objective, last_path, loss):
    model = small_model(name, attention)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = batch_for(model, objective, last_path)
    with HostReads() as spy:
        on_device = to_device(batch, "cpu")
        value = compute_loss(model, on_device, objective, loss, torch.Generator().manual_seed(2))
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        torch.isfinite(value.detach())
    optimizer.step()  # Adam reads its step counters with .item(), but torch keeps them on the host: no wait
    assert spy.reads == [], f"host reads in a training step: {spy.reads}"


@pytest.mark.parametrize("name", ["sasrec", "bert4rec"])
def test_prediction_with_padding_known_on_the_host_never_reads_the_device(name):
    model = small_model(name, "linrec").eval()
    item_seq = torch.randint(1, 21, (3, 10))
    item_seq[1, 6:] = 0
    lengths = torch.tensor([10 - (name == "bert4rec"), 6, 10 - (name == "bert4rec")])
    with torch.no_grad():
        expected = model.predict(item_seq, lengths)  # padded decided from the data: reads it
        with HostReads() as spy:
            got = model.predict(item_seq, lengths, padded=True)
    # BERT4Rec checks its free [MASK] slot where the lengths are on the host, as they are here: that read is of a
    # host tensor; on a GPU the lengths live there and the check is skipped
    assert spy.reads == ([] if name == "sasrec" else ["__int__"]), spy.reads
    torch.testing.assert_close(got, expected)


def test_the_spy_sees_a_read_when_the_model_must_find_its_padding():
    model = small_model("sasrec", "dot")
    item_seq = torch.randint(1, 21, (2, 10))
    item_seq[0, 5:] = 0
    with HostReads() as spy:
        model.encode(item_seq)  # padded unknown: the mask is read back
    assert "__bool__" in spy.reads
