"""The mixer layer changes nothing for the attentions: same cell ids, same parameters, same numbers.

The fingerprints below were computed by the code before the mixer layer existed (the same calls, at the commit
that preceded it); an attention must still give them bit for bit.
"""
from __future__ import annotations

import hashlib

import pytest
import torch

from bench.__main__ import main
from bench.train.grids import GRIDS
from models.backbones import build_model
from models.mixers import MixerInputError, get_mixer_spec, mixer_names

REFERENCE_IDS = [
    "ml-100k-5core-sasrec-dot-N50-last-ce-s0-bf21a9e8",
    "ml-100k-5core-sasrec-linrec_official-N50-last-ce-s0-9a722fb9",
    "ml-100k-5core-sasrec-linrec-N50-last-ce-s0-50a9c31e",
    "ml-100k-5core-sasrec-sdpa-N50-last-ce-s0-408381e2",
    "ml-100k-5core-pop-none-N50-last-ce-s0-995fbcfa",
    "ml-100k-5core-sasrec-dot-N50-last-ce-s0-64862e19",
    "ml-100k-5core-sasrec-dot-N50-last-ce-s1-fde21282",
    "ml-100k-5core-sasrec-linrec_official-N50-last-ce-s1-0f4bcaee",
    "ml-100k-5core-sasrec-linrec-N50-last-ce-s1-ebf0f4b6",
    "ml-100k-5core-sasrec-dot-N50-last-ce-s2-eca4f571",
    "ml-100k-5core-sasrec-linrec_official-N50-last-ce-s2-d168e72a",
    "ml-100k-5core-sasrec-linrec-N50-last-ce-s2-4fe28623",
    "ml-100k-5core-sasrec-dot-N200-last-ce-s0-f5eebbf4",
    "ml-100k-5core-sasrec-linrec_official-N200-last-ce-s0-2fc55c23",
    "ml-100k-5core-sasrec-linrec-N200-last-ce-s0-a23d771d",
]

# (model, attention, sum of encode(seq) weighted by linspace(-1, 1), sha1 of the state dict's keys)
FINGERPRINTS = [
    ("sasrec", "dot", 1.1453363774938552, "aa12cd047eb4"),
    ("sasrec", "linrec", 1.1412033038678917, "aa12cd047eb4"),
    ("bert4rec", "linrec_official", 0.9514848634232205, "2e193fabdc86"),
]


def test_reference_cells_keep_their_ids():
    assert [config.cell_id("ml-100k-5core") for _, config in GRIDS["reference-ml100k"]()] == REFERENCE_IDS


def test_mixer_reference_shares_the_dot_and_linrec_cells_of_the_attention_reference():
    """Its dot and linrec cells carry the attention reference's ids (the same settings); every family is in it."""
    cells = [config for _, config in GRIDS["reference-mixers-ml100k"]()]
    ids = [config.cell_id("ml-100k-5core") for config in cells]
    assert len(set(ids)) == len(ids) == 8 * 4
    assert {i for i in ids if "-dot-" in i or "-linrec-" in i} <= set(REFERENCE_IDS)
    assert {config.attention for config in cells} == {"dot", "linrec", "mamba", "lru", "gla", "retnet", "hstu", "gru"}
    assert sorted({(c.max_len, c.seed) for c in cells}) == [(50, 0), (50, 1), (50, 2), (200, 0)]


def fingerprint(model_name: str, **names) -> tuple[float, str]:
    torch.manual_seed(0)
    model = build_model(model_name, num_items=30, max_len=8, hidden=16, heads=2, inner=32, layers=2, seed=0, **names)
    seq = torch.randint(1, 31, (3, 8), generator=torch.Generator().manual_seed(1))
    seq[0, 5:] = 0
    with torch.no_grad():
        h = model.encode(seq).double()
    weights = torch.linspace(-1, 1, h.numel(), dtype=torch.float64).view_as(h)
    return float((h * weights).sum()), hashlib.sha1(",".join(model.state_dict()).encode()).hexdigest()[:12]


@pytest.mark.parametrize("model, attention, value, keys", FINGERPRINTS, ids=lambda x: str(x)[:16])
@pytest.mark.parametrize("given", ["attention", "mixer"])
def test_attentions_give_the_numbers_they_gave_before_the_mixer_layer(model, attention, value, keys, given):
    got, got_keys = fingerprint(model, **{given: attention})
    # float32 sums move in the 7th digit with the thread count and kernel order other tests leave behind; a changed
    # layer, initialisation or ordering moves them far more
    assert got == pytest.approx(value, rel=1e-5) and got_keys == keys


@pytest.mark.parametrize("names, message", [
    pytest.param({}, "no token mixer given", id="neither"),
    pytest.param({"attention": "dot", "mixer": "gru"}, "give the token mixer once", id="both-differ"),
    pytest.param({"mixer": "mamba2"}, "unknown mixer 'mamba2'; valid names: dot", id="unknown"),
    pytest.param({"mixer": "dot", "block": "published"}, "has none", id="attention-published"),
    pytest.param({"mixer": "gru", "block": "paper"}, "unknown block 'paper'", id="unknown-block"),
])
def test_bad_mixer_choices_are_one_line(names, message):
    with pytest.raises(MixerInputError, match=message) as caught:
        build_model("sasrec", num_items=10, max_len=8, **names)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", [n for n in mixer_names() if not get_mixer_spec(n).bidirectional])
def test_a_causal_only_mixer_in_bert4rec_says_why(name):
    with pytest.raises(MixerInputError, match="causal only .* BERT4Rec reads the whole window in both directions"):
        build_model("bert4rec", num_items=10, max_len=8, mixer=name)


def test_sasrec_runs_a_causal_only_mixer_causally_and_refuses_otherwise():
    assert build_model("sasrec", num_items=10, max_len=8, mixer="gru").causal
    with pytest.raises(MixerInputError, match="causal only"):
        build_model("sasrec", num_items=10, max_len=8, mixer="gru", causal=False)


def test_attention_options_reach_the_attention_through_mixer_options():
    model = build_model("sasrec", num_items=10, max_len=8, mixer="linrec_causal", mixer_options={"chunk_size": 4})
    assert model.encoder.mixers[0].attention._forward_fn.keywords["chunk_size"] == 4


def test_bench_list_shows_the_mixers(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "token mixers" in out
    table = out[out.index("token mixers"):]
    rows = {line.split()[0]: line for line in reversed(table.splitlines()) if line.strip()}  # the first row wins
    assert "causal only" in rows["gru"] and "fixed: d" in rows["gru"]
    assert "both" in rows["dot"] and "grows: 2·d per item" in rows["dot"]
