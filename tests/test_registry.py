"""The registry: names, listing, options, availability."""
from __future__ import annotations

import pytest
import torch

from models.attention import (AttentionInputError, attention_names, get_attention, get_spec, list_attentions,
                              unavailable_reason)

REQUIRED = {"dot", "sdpa", "xformers", "linrec_official", "linrec", "linrec_causal", "linear_elu", "efficient",
            "performer", "linformer", "cosformer"}
ABLATIONS = {f"linrec-{f}-{n}" for f in ("elu", "relu", "elu1", "id") for n in ("token", "none", "seq")} - \
    {"linrec-elu-token"}


def test_every_required_variant_and_ablation_is_registered():
    names = set(attention_names())
    assert REQUIRED <= names and ABLATIONS <= names


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(AttentionInputError) as info:
        get_attention("flash9000")
    message = str(info.value)
    assert "flash9000" in message and all(n in message for n in REQUIRED) and "\n" not in message


def test_listing_describes_every_variant_with_its_capabilities():
    rows = list_attentions("cpu")
    assert [r["name"] for r in rows] == attention_names()
    for row in rows:
        assert row["description"] and len(row["description"].splitlines()) == 1
        assert {"causal", "padding", "exact", "devices", "ignores_masks", "available_on_cpu"} <= set(row)
    by_name = {r["name"]: r for r in rows}
    assert by_name["linrec_official"]["ignores_masks"] and "IGNORES" in by_name["linrec_official"]["description"]
    assert by_name["xformers"]["available_on_cpu"].startswith("no: ")
    assert by_name["dot"]["available_on_cpu"] == "yes"


@pytest.mark.parametrize("name,expected", [("dot", (True, True, True)), ("linrec", (False, True, False)),
                                           ("linrec_causal", (True, True, False)), ("linformer", (False, True, False)),
                                           ("linrec_official", (False, False, False))])
def test_capabilities_are_declared_honestly(name, expected):
    spec = get_spec(name)
    assert (spec.causal, spec.padding, spec.exact) == expected


def test_unknown_option_names_the_valid_ones():
    with pytest.raises(AttentionInputError, match="no option chunk_sise; its options: chunk_size, eps"):
        get_attention("linrec_causal", chunk_sise=8)


def test_missing_required_option_is_named():
    with pytest.raises(AttentionInputError, match="needs option max_len"):
        get_attention("linformer")


def test_context_options_are_accepted_by_every_variant():
    for name in attention_names():
        assert isinstance(get_attention(name, head_dim=8, max_len=16, seed=1), torch.nn.Module)


def test_learned_variants_have_parameters_and_functions_do_not():
    assert sum(p.numel() for p in get_attention("linformer", max_len=16).parameters()) > 0
    assert list(get_attention("linrec").parameters()) == []
    performer = get_attention("performer", head_dim=8, seed=1)
    assert list(performer.parameters()) == [] and "projection" in performer.state_dict()


def test_performer_features_are_seeded_and_fixed():
    a, b, c = (get_attention("performer", head_dim=8, seed=s) for s in (1, 1, 2))
    assert torch.equal(a.projection, b.projection) and not torch.equal(a.projection, c.projection)
    rows = a.projection[:8] / a.projection[:8].norm(dim=1, keepdim=True)
    torch.testing.assert_close(rows @ rows.T, torch.eye(8), atol=1e-5, rtol=0)


def test_unavailable_reason_is_none_where_a_variant_runs():
    assert unavailable_reason("linrec", "cpu") is None
    assert unavailable_reason("sdpa", torch.device("cpu")) is None
