"""Plug-ins (models/plugins.py): a variant registered outside the suite is checked as it registers, and, once
installed or named, every command and every child process sees it as it sees a built-in one."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from bench.profile.flops import attention_flops, family
from models import plugins
from models.attention import (ContractError, attention_names, get_attention, get_spec, kernel_ran,
                              register_function, register_module)
from models.attention.registry import FLOP_FORMULAS
from models.mixers import build_mixer, get_mixer_spec, mixer_names, register_mixer

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "plugin"
FAST = {"LINREC_COMPILE": "0"}  # the children need no compiled LinRec kernels: seconds, not a compile


def softmax_matrix(q, k, *, causal=False, key_padding_mask=None):
    scores = torch.einsum("bthd,bshd->bhts", q, k)  # (B, H, T, T)
    T = q.shape[1]
    if causal:
        scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    if key_padding_mask is not None:
        scores = scores.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
    weights = scores.softmax(-1)
    if key_padding_mask is not None:
        weights = weights.masked_fill(key_padding_mask[:, None, :, None], 0.0)
    return weights


def honest(q, k, v, *, causal=False, key_padding_mask=None):
    return torch.einsum("bhts,bshd->bthd", softmax_matrix(q, k, causal=causal, key_padding_mask=key_padding_mask), v)


def never_causal(q, k, v, *, causal=False, key_padding_mask=None):
    return honest(q, k, v, causal=False, key_padding_mask=key_padding_mask)


def unmasked(q, k, v, *, causal=False, key_padding_mask=None):
    return honest(q, k, v, causal=causal)


def padded_rows_kept(q, k, v, *, causal=False, key_padding_mask=None):
    out = honest(q, k, v, causal=causal, key_padding_mask=key_padding_mask)
    if key_padding_mask is None:
        return out
    return out + key_padding_mask[..., None, None].to(out.dtype)  # padded outputs are 1, not 0


def flat(q, k, v, *, causal=False, key_padding_mask=None):
    return honest(q, k, v, causal=causal, key_padding_mask=key_padding_mask).flatten(2)  # (B, T, H·D)


def crashes(q, k, v, *, causal=False, key_padding_mask=None):
    raise RuntimeError("a bug in the plug-in")


def doubled(q, k, v, *, causal=False, key_padding_mask=None):
    return 2 * honest(q, k, v, causal=causal, key_padding_mask=key_padding_mask)  # matrix() @ v is half of it


def needs_rank(q, k, v, *, rank, causal=False, key_padding_mask=None):
    return honest(q, k, v, causal=causal, key_padding_mask=key_padding_mask)


def rank_matrix(q, k, *, rank, causal=False, key_padding_mask=None):
    return softmax_matrix(q, k, causal=causal, key_padding_mask=key_padding_mask)


@pytest.fixture
def registered():
    """Names registered by a test, removed afterwards so no test sees another's variants."""
    from models.attention import registry as attention_registry
    from models.mixers import registry as mixer_registry

    names: list[str] = []
    yield names
    for name in names:
        attention_registry._REGISTRY.pop(name, None)  # noqa: SLF001  (test clean-up only)
        mixer_registry._MIXERS.pop(name, None)  # noqa: SLF001


def test_an_honest_plugin_attention_registers_and_builds(registered):
    registered.append("plug_softmax")
    register_function("plug_softmax", honest, softmax_matrix, description="softmax", causal=True, padding=True,
                      exact=True)
    assert "plug_softmax" in attention_names() and "plug_softmax" in mixer_names()
    q = torch.randn(1, 5, 2, 4)
    assert torch.allclose(get_attention("plug_softmax")(q, q, q, causal=True), honest(q, q, q, causal=True))


@pytest.mark.parametrize("fn, claims, refused", [
    (never_causal, {"causal": True}, "claims causal=True"),
    (unmasked, {"causal": True}, "claims padding=True, but its outputs at padded positions are not exactly 0"),
    (padded_rows_kept, {"causal": False}, "padded positions are not exactly 0"),
    (flat, {"causal": False}, "output shape (2, 7, 16), expected (B, T, H, D)"),
    (crashes, {"causal": False}, "failed on the contract check's inputs: RuntimeError: a bug in the plug-in"),
    (doubled, {"causal": False}, "matrix(q, k) @ v is not its output"),
    (needs_rank, {"causal": False}, "cannot check its contract without option rank"),
], ids=["false-causal", "false-padding", "padded-output", "shape", "crash", "matrix", "needs-option"])
def test_a_false_claim_is_refused_in_one_line_and_registers_nothing(registered, fn, claims, refused):
    registered.append("plug_bad")
    with pytest.raises(ContractError) as err:
        register_function("plug_bad", fn, softmax_matrix, description="bad", padding=True, exact=False, **claims)
    assert refused in str(err.value) and "\n" not in str(err.value) and "'plug_bad'" in str(err.value)
    assert "plug_bad" not in attention_names()


def test_check_options_let_a_variant_with_required_options_be_checked(registered):
    registered.append("plug_rank")
    register_function("plug_rank", needs_rank, rank_matrix, description="rank", causal=True, padding=True,
                      exact=True, check_options={"rank": 2})
    assert get_spec("plug_rank").required_options == ("rank",)


class ShiftModule(torch.nn.Module):
    """Attends only to the next position: not causal, whatever it claims."""

    def forward(self, q, k, v, *, causal=False, key_padding_mask=None):
        return torch.roll(v, shifts=-1, dims=1)


class MaskBlindModule(torch.nn.Module):
    """Softmax attention that never reads key_padding_mask: padded keys reach real outputs."""

    def forward(self, q, k, v, *, causal=False, key_padding_mask=None):
        return honest(q, k, v, causal=causal)


def test_a_module_is_checked_too_and_an_unknown_flop_formula_is_refused(registered):
    registered.append("plug_shift")
    with pytest.raises(ContractError, match="claims padding=True, but what padded positions hold changed the real"):
        register_module("plug_shift", MaskBlindModule, description="blind", causal=False, padding=True, exact=True)
    with pytest.raises(ContractError, match="claims causal=True"):
        register_module("plug_shift", ShiftModule, description="shift", causal=True, padding=False, exact=False)
    with pytest.raises(ValueError, match="unknown FLOP formula 'quadratic'; valid: " + ", ".join(FLOP_FORMULAS)):
        register_module("plug_shift", ShiftModule, description="shift", causal=False, padding=False, exact=False,
                        flops="quadratic")
    assert "plug_shift" not in attention_names()


def test_a_plugin_without_a_flop_formula_has_unknown_flops_and_no_kernel(registered):
    registered.append("plug_linearish")
    register_function("plug_linearish", honest, softmax_matrix, description="?", causal=True, padding=True,
                      exact=False)
    assert family("plug_linearish") is None and attention_flops("plug_linearish", "fwd", 1, 8, 1, 4) is None
    assert family("linrec") == "linear" and family("dot") == "softmax" and family("performer") == "performer"
    assert kernel_ran("plug_linearish", "cpu") is None and kernel_ran("mamba", "cpu") is None


class LeakyMixer(torch.nn.Module):
    """Mixes with a cumulative mean, plus a look at the next position when ``peek``: false causal claim."""

    def __init__(self, hidden: int, peek: bool = False, pad_leak: bool = False):
        super().__init__()
        self.peek, self.pad_leak = peek, pad_leak

    def forward(self, x, *, causal=True, key_padding_mask=None):
        if key_padding_mask is not None and not self.pad_leak:
            x = x.masked_fill(key_padding_mask[..., None], 0.0)
        y = x.cumsum(1) / torch.arange(1, x.shape[1] + 1)[None, :, None]
        y = y + torch.roll(x, -1, dims=1) if self.peek else y
        if key_padding_mask is not None and not self.pad_leak:
            y = y.masked_fill(key_padding_mask[..., None], 0.0)
        return y


@pytest.mark.parametrize("options, refused", [
    ({}, None),
    ({"peek": True}, "claims causal=True"),
    ({"pad_leak": True}, "padded positions are not exactly 0"),
], ids=["honest", "false-causal", "padding"])
def test_a_plugin_mixer_is_checked_as_it_registers(registered, options, refused):
    registered.append("plug_mean")
    register = lambda: register_mixer("plug_mean", LeakyMixer, description="mean", family="average", causal=True,
                                      bidirectional=False, state="d", matrix=False, check_options=options)
    if refused is None:
        register()
        assert get_mixer_spec("plug_mean").family == "average"
        return
    with pytest.raises(ContractError, match=refused):
        register()
    assert "plug_mean" not in mixer_names()


def run_bench(args, tmp_path, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != plugins.PLUGINS_VARIABLE}
    environ.update({**FAST, **env})
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, cwd=tmp_path,
                          env=environ, timeout=300)


def with_path(*paths) -> str:
    return os.pathsep.join([*map(str, paths), str(ROOT)])


def test_plugin_by_flag_and_by_variable_and_a_missing_one_in_one_line(tmp_path):
    by_flag = run_bench(["list", "--plugin", "linrec_bench_example"], tmp_path, PYTHONPATH=with_path(EXAMPLE))
    assert by_flag.returncode == 0, by_flag.stderr
    assert "sigmoid" in by_flag.stdout and "dilated_conv" in by_flag.stdout
    by_variable = run_bench(["list"], tmp_path, PYTHONPATH=with_path(EXAMPLE),
                            LINREC_BENCH_PLUGINS="linrec_bench_example")
    assert by_variable.returncode == 0 and "sigmoid" in by_variable.stdout
    missing = run_bench(["--plugin=no_such_plugin", "list"], tmp_path, PYTHONPATH=with_path())
    assert missing.returncode == 2 and missing.stderr.strip().count("\n") == 0
    assert "plug-in 'no_such_plugin' (--plugin): no module named 'no_such_plugin'" in missing.stderr
    bare = run_bench(["list", "--plugin"], tmp_path, PYTHONPATH=with_path())
    assert bare.returncode == 2 and "--plugin needs a module name" in bare.stderr


def test_a_plugin_that_lies_stops_the_command_in_one_line(tmp_path):
    (tmp_path / "liar_plugin.py").write_text(textwrap.dedent("""
        from models.attention import register_function
        from linrec_bench_example.sigmoid import sigmoid_attention, sigmoid_matrix

        def liar(q, k, v, *, causal=False, key_padding_mask=None):
            return sigmoid_attention(q, k, v, causal=False, key_padding_mask=key_padding_mask)

        register_function("liar", liar, sigmoid_matrix, description="x", causal=True, padding=True, exact=False)
    """))
    done = run_bench(["--plugin", "liar_plugin", "list"], tmp_path, PYTHONPATH=with_path(tmp_path, EXAMPLE))
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert "plug-in 'liar_plugin' (--plugin): attention 'liar' claims causal=True" in done.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The example package installed (pip, no network) into a folder of its own: its entry point is real."""
    target, source = tmp_path_factory.mktemp("site"), tmp_path_factory.mktemp("src") / "plugin"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--no-index", "--target", str(target), str(source)], capture_output=True, text=True,
                          timeout=300)  # from a copy: building writes build/ beside the sources
    assert done.returncode == 0, done.stderr
    assert list(target.glob("*.dist-info/entry_points.txt")), "the install declared no entry point"
    return target


def test_an_installed_plugin_mixer_trains_from_the_command_line(installed, tmp_path):
    run = tmp_path / "run"
    done = run_bench(["train", "--dataset", "synthetic", "--synthetic-users", "40", "--synthetic-items", "30",
                      "--synthetic-mean-length", "10", "--synthetic-max-length", "16", "--max-len", "8",
                      "--hidden", "8", "--heads", "2", "--layers", "1", "--inner", "16", "--epochs", "1",
                      "--mixer", "dilated_conv", "--device", "cpu", "--run-dir", str(run), "--no-progress",
                      "--data-dir", str(tmp_path / "data")], tmp_path, PYTHONPATH=with_path(installed))
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in (run / "rows.jsonl").read_text().splitlines()]
    status = [r for r in rows if r.get("metric") == "status"]
    assert status and status[0]["status"] == "finished" and status[0]["attention"] == "dilated_conv"
    env = json.loads((run / "env.json").read_text())
    assert env["plugins"] == ["entry point example = linrec_bench_example"]  # how the variant came to be there
    assert status[0]["kernel"] == "torch"  # the plug-in mixer's own kernel_path


def test_an_installed_plugin_attention_is_profiled_in_its_memory_child_and_an_isolated_cell(installed, tmp_path):
    run = tmp_path / "profile"
    done = run_bench(["profile", "--attention", "sigmoid", "--lengths", "32", "--tokens", "64", "--mode", "fwdbwd",
                      "--repeats", "2", "--device", "cpu", "--isolate", "--run-dir", str(run), "--no-progress"],
                     tmp_path, PYTHONPATH=with_path(installed))
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in (run / "rows.jsonl").read_text().splitlines()]
    ok = {r["metric"] for r in rows if r.get("variant") == "sigmoid" and r.get("status") == "ok"}
    assert {"time", "peak_memory"} <= ok, [r.get("message") for r in rows if r.get("status") != "ok"]
    timed = next(r for r in rows if r.get("metric") == "time" and r.get("status") == "ok")
    assert timed["flops"] == attention_flops("dot", "fwdbwd", timed["B"], timed["T"], timed["H"], timed["D"])


def test_load_plugins_names_every_module_for_the_children(monkeypatch):
    monkeypatch.setenv(plugins.PLUGINS_VARIABLE, "json")
    monkeypatch.setattr(plugins, "_LOADED", [])
    plugins.load_plugins(["textwrap"])
    assert os.environ[plugins.PLUGINS_VARIABLE] == "json,textwrap"
    assert plugins.modules_from_environment({plugins.PLUGINS_VARIABLE: " a, ,b "}) == ["a", "b"]
    assert build_mixer("gru", hidden=4) is not None  # the registry is untouched by loading plain modules
