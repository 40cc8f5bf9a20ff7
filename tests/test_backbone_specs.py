"""Backbones by spec (models/backbones/registry.py): what each backbone allows is said once, and the harness
reads it instead of checking names, so a registered backbone of one's own is handled by its facts."""
from __future__ import annotations

import pytest

from bench.train.config import TrainConfig, check_config, one_pass_eligible, training_path
from bench.train.loop import model_for_config
from models.backbones import SASRec, backbone_names, get_backbone, register_backbone
from models.backbones import registry


@pytest.fixture
def own_backbone():
    """A SASRec registered under another name, whose spec says one pass is not allowed."""
    register_backbone("sasrec_prefix_only", SASRec, description="SASRec, trained prefix by prefix",
                      objectives=("last",), default_objective="last", direction="left-to-right", trainable=True,
                      one_pass=False)
    yield "sasrec_prefix_only"
    registry._BACKBONES.pop("sasrec_prefix_only")  # noqa: SLF001  (test clean-up only)


def test_the_built_in_backbones_say_what_they_allow():
    sasrec, bert4rec, pop = (get_backbone(name) for name in ("sasrec", "bert4rec", "pop"))
    assert sasrec.objectives == ("last", "all") and sasrec.one_pass and sasrec.direction == "left-to-right"
    assert bert4rec.default_objective == "cloze" and bert4rec.mask_slot and bert4rec.model_options == ("mask_ratio",)
    assert not pop.trainable and not pop.mixes and backbone_names()[:3] == ["sasrec", "bert4rec", "pop"]


@pytest.mark.parametrize("facts, message", [
    ({"direction": "sideways"}, "direction 'sideways'; valid: left-to-right, bidirectional, none"),
    ({"default_objective": "cloze"}, "default objective 'cloze' is not one of its objectives (last)"),
], ids=["direction", "default-objective"])
def test_a_spec_that_contradicts_itself_is_refused_in_one_line(facts, message):
    base = dict(description="x", objectives=("last",), default_objective="last", direction="left-to-right",
                trainable=True)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        register_backbone("broken", SASRec, **{**base, **facts})
    assert "broken" not in backbone_names()
    with pytest.raises(ValueError, match="unknown model 'broken'; valid: sasrec, bert4rec, pop"):
        get_backbone("broken")


def test_a_registered_backbone_is_trained_by_its_facts_not_its_name(own_backbone):
    config = TrainConfig(model=own_backbone, max_len=8, hidden=8, inner=16, layers=1, last_path="auto")
    model = model_for_config(config, num_items=20)
    assert model.causal and not one_pass_eligible(config, model)  # its spec says no one pass
    assert training_path(config, model) == "per-prefix"
    sasrec = TrainConfig(model="sasrec", max_len=8, hidden=8, inner=16, layers=1, last_path="auto")
    assert training_path(sasrec, model_for_config(sasrec, num_items=20)) == "per-sequence"
    with pytest.raises(ValueError, match="trains with objective last, not 'all'"):
        check_config(TrainConfig(model=own_backbone, objective="all"), model)
