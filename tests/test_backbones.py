"""SASRec, BERT4Rec and Pop: shapes, causality, padding, the [MASK] slot and bad arguments."""
import pytest
import torch

from models.attention import get_spec
from models.backbones import BERT4Rec, Pop, SASRec, build_model

ATTENTIONS = ["dot", "sdpa", "linrec", "linrec_causal", "linrec_official", "performer", "linformer"]
ITEMS, N = 40, 12


def make(model, attention, **options):
    torch.manual_seed(0)
    return build_model(model, num_items=ITEMS, attention=attention, max_len=N, hidden=16, heads=2, inner=32,
                       **options).eval()


def right_padded(rows, width=N):
    return torch.tensor([row + [0] * (width - len(row)) for row in rows])


@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("model", ["sasrec", "bert4rec"])
def test_predict_shapes_and_causal_flag(model, attention):
    net = make(model, attention)
    seq = right_padded([[1, 2, 3], [4, 5, 6, 7, 8, 9, 10]])
    assert net.predict(seq, torch.tensor([3, 7])).shape == (2, ITEMS)
    assert net.causal == (model == "sasrec" and get_spec(attention).causal)
    assert [m.shape for m in net.implicit_matrices(seq)] == [(2, 2, N, N)] * 2


@pytest.mark.parametrize("attention", [a for a in ATTENTIONS if get_spec(a).causal])
def test_sasrec_future_items_never_change_past_outputs(attention):
    net = make("sasrec", attention)
    seq = right_padded([[1, 2, 3, 4, 5, 6]])
    changed = seq.clone()
    changed[0, 4:6] = torch.tensor([30, 31])
    assert torch.allclose(net.encode(seq)[:, :4], net.encode(changed)[:, :4], atol=1e-5)


@pytest.mark.parametrize("attention", [a for a in ATTENTIONS if not get_spec(a).ignores_masks])
@pytest.mark.parametrize("model", ["sasrec", "bert4rec"])
def test_padding_never_changes_predictions(model, attention):
    net = make(model, attention)
    seq = right_padded([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3, 5, 8, 9, 7]])
    lengths = torch.tensor([5, 9])
    narrow = net.predict(seq[:, :10], lengths)  # less padding, same real items
    assert torch.allclose(net.predict(seq, lengths), narrow, atol=1e-4)


def test_linrec_official_sees_padding_as_recbole_did():
    net = make("sasrec", "linrec_official")
    seq, lengths = right_padded([[3, 1, 4, 1, 5]]), torch.tensor([5])
    assert not torch.allclose(net.predict(seq, lengths), net.predict(seq[:, :8], lengths), atol=1e-4)


def test_bert4rec_writes_the_mask_after_the_window():
    net = make("bert4rec", "dot")
    seq = right_padded([[1, 2, 3], [4, 5]])
    masked = net.with_mask_appended(seq, torch.tensor([3, 2]))
    assert masked[0, 3] == ITEMS + 1 and masked[1, 2] == ITEMS + 1 and net.history_len == N - 1
    with pytest.raises(ValueError, match="free slot"):
        net.predict(right_padded([list(range(1, N + 1))]), torch.tensor([N]))


def test_item_scores_for_given_items_match_the_full_table():
    for net in (make("sasrec", "dot"), make("bert4rec", "dot")):
        h = torch.randn(3, 16)
        items = torch.tensor([[1, 5], [40, 2], [7, 7]])
        assert torch.allclose(net.item_scores(h, items), net.item_scores(h).gather(1, items - 1), atol=1e-5)


def test_pop_scores_training_counts():
    net = Pop(num_items=5).fit(torch.tensor([1, 1, 3, 0, 5, 1]))
    assert net.predict(torch.zeros(2, 3, dtype=torch.long), torch.tensor([1, 1])).tolist() == [[3, 0, 1, 0, 1]] * 2


@pytest.mark.parametrize("make_bad, message", [
    pytest.param(lambda: build_model("gru4rec", num_items=5), "unknown model 'gru4rec'", id="unknown-model"),
    pytest.param(lambda: SASRec(5, "nope", 8), "unknown mixer .nope.; valid names: dot", id="unknown-attention"),
    pytest.param(lambda: SASRec(5, "linrec", 8, causal=True), "cannot run causally", id="causal-unsupported"),
    pytest.param(lambda: SASRec(5, "dot", 8, hidden=10, heads=3), "not divisible", id="heads"),
    pytest.param(lambda: BERT4Rec(5, "dot", 8, mask_ratio=1.0), "mask_ratio", id="mask-ratio"),
    pytest.param(lambda: SASRec(5, "dot", 8, activation="swish"), "unknown activation", id="activation"),
    pytest.param(lambda: SASRec(5, "dot", 4).encode(torch.ones(1, 6, dtype=torch.long)), "longer than", id="too-long"),
])
def test_bad_arguments_are_clear(make_bad, message):
    with pytest.raises(ValueError, match=message):
        make_bad()


@pytest.mark.parametrize("first, second, padded", [
    pytest.param("dot", "sdpa", True, id="dot=sdpa"),
    pytest.param("linrec", "linrec_official", False, id="linrec=official-without-padding"),
])
def test_exact_twins_give_the_same_model_outputs(first, second, padded):
    seq = right_padded([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3, 5, 8, 9, 7, 9]] if padded else [list(range(1, N + 1))])
    lengths = (seq > 0).sum(1)
    a, b = make("sasrec", first), make("sasrec", second)
    b.load_state_dict(a.state_dict())
    assert torch.allclose(a.predict(seq, lengths), b.predict(seq, lengths), atol=1e-5)


@pytest.mark.parametrize("p", [0.2, 0.5], ids=["p0.2", "p0.5"])
def test_the_cpu_dropout_keeps_1_minus_p_and_scales_like_nn_dropout(p):
    from models.backbones.blocks import Dropout

    layer = Dropout(p).train()
    x = torch.rand(1000, 1000, dtype=torch.float64) + 0.5  # no zeros of its own: a zero means dropped
    torch.manual_seed(0)
    y = layer(x)
    kept = y != 0
    assert abs(kept.double().mean().item() - (1 - p)) < 5e-3  # 1e6 draws: the sd of the fraction is < 5e-4
    torch.testing.assert_close(y[kept], x[kept] / (1 - p))
    torch.manual_seed(0)
    assert torch.equal(layer(x), y)  # seeded: the same mask


def test_the_cpu_dropout_gradient_is_its_mask_and_eval_or_p0_is_the_identity():
    from models.backbones.blocks import Dropout

    x = torch.randn(50, 40, requires_grad=True)
    y = Dropout(0.25).train()(x)
    (grad,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(grad, (y != 0).float() / 0.75)
    assert Dropout(0.25).eval()(x) is x and torch.equal(Dropout(0.0).train()(x), x)
    assert (Dropout(1.0).train()(x) == 0).all()


def test_every_dropout_in_the_backbones_is_the_cpu_dropout():
    from models.backbones.blocks import Dropout

    for model in (SASRec(num_items=20, attention="dot", max_len=8), BERT4Rec(num_items=20, attention="dot", max_len=8)):
        dropouts = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
        assert dropouts and all(type(m) is Dropout for m in dropouts)
