"""models.recbole inside RecBole's own Config, data preparation and Trainer (the [recbole] extra's venv only).

.ci/run makes that venv (RecBole 1.2.1 pins numpy<2) and runs this file there; elsewhere it skips."""
from pathlib import Path

import pytest

recbole = pytest.importorskip("recbole")
import torch  # noqa: E402
from recbole.config import Config  # noqa: E402
from recbole.data import create_dataset, data_preparation  # noqa: E402
from recbole.model.sequential_recommender.bert4rec import BERT4Rec as RecBoleBERT4Rec  # noqa: E402
from recbole.model.sequential_recommender.sasrec import SASRec as RecBoleSASRec  # noqa: E402
from recbole.trainer import Trainer  # noqa: E402
from recbole.utils import init_seed  # noqa: E402

from models.mixers import MixerInputError  # noqa: E402
from models.recbole import BERT4Rec, SASRec, from_recbole_state_dict  # noqa: E402

BUNDLED = Path(recbole.__file__).parent / "dataset_example"  # RecBole's own ml-100k
SMALL = {"MAX_ITEM_LIST_LENGTH": 10, "hidden_size": 16, "inner_size": 32, "n_layers": 1, "n_heads": 2}
# MRR and MAP are left out: RecBole 1.2.1 computes them with np.float, which numpy 1.24 removed
QUIET = {"data_path": str(BUNDLED), "device": "cpu", "use_gpu": False, "show_progress": False, "state": "ERROR",
         "metrics": ["Recall", "NDCG", "Hit"], "topk": [10], "valid_metric": "NDCG@10",
         "train_neg_sample_args": None, "epochs": 1, "seed": 0}


def recbole_setup(model, tmp_path, **settings):
    config = Config(model=model, dataset="ml-100k", config_dict={**QUIET, **SMALL, "checkpoint_dir": str(tmp_path),
                                                                 **settings})
    init_seed(config["seed"], config["reproducibility"])
    train, valid, test = data_preparation(config, create_dataset(config))
    return config, train, valid, test


@pytest.mark.parametrize("ours, theirs", [(SASRec, RecBoleSASRec), (BERT4Rec, RecBoleBERT4Rec)],
                         ids=["sasrec", "bert4rec"])
def test_dot_with_the_same_weights_equals_recbole(ours, theirs, tmp_path):
    config, train, _, test = recbole_setup(ours, tmp_path, attention="dot")
    reference = theirs(config, train.dataset).double().eval()
    model = ours(config, train.dataset).double().eval()
    model.load_state_dict(from_recbole_state_dict(reference.state_dict()))
    interaction = next(iter(test))[0]
    with torch.no_grad():
        expected, got = reference.full_sort_predict(interaction), model.full_sort_predict(interaction)
    assert expected.dtype == torch.float64 and torch.allclose(got, expected, rtol=0, atol=1e-12)


def test_one_epoch_of_linrec_in_recboles_trainer(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # RecBole's Trainer writes log_tensorboard/ into the working directory
    config, train, valid, test = recbole_setup(SASRec, tmp_path, attention="linrec")
    model = SASRec(config, train.dataset)
    assert model.trm_encoder.mixer == "linrec" and model.trm_encoder.causal is False  # as the official LinRec ran
    trainer = Trainer(config, model)
    best, _ = trainer.fit(train, valid, verbose=False, saved=False)
    result = trainer.evaluate(test, load_best_model=False)
    assert torch.isfinite(torch.tensor(best)) and all(0 <= v <= 1 for v in result.values())


def test_a_mixer_runs_in_sasrec(tmp_path):
    config, train, _, test = recbole_setup(SASRec, tmp_path, mixer="gru")
    model = SASRec(config, train.dataset).eval()
    with torch.no_grad():
        scores = model.full_sort_predict(next(iter(test))[0])
    assert model.trm_encoder.causal is True and torch.isfinite(scores).all()


@pytest.mark.parametrize("model, settings, words", [
    (SASRec, {"attention": "dott"}, "dott"),
    (SASRec, {}, "no token mixer given"),
    (BERT4Rec, {"mixer": "gru"}, "causal only"),
], ids=["unknown-name", "no-name", "causal-only-in-bert4rec"])
def test_a_wrong_mixer_in_the_config_is_one_line(model, settings, words, tmp_path):
    config, train, _, _ = recbole_setup(model, tmp_path, **settings)
    with pytest.raises(MixerInputError) as error:
        model(config, train.dataset)
    assert words in str(error.value) and "\n" not in str(error.value)


def test_an_unknown_recbole_encoder_key_is_refused():
    with pytest.raises(KeyError, match="no counterpart"):
        from_recbole_state_dict({"trm_encoder.layer.0.extra.weight": torch.zeros(1)})
