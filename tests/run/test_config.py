"""Config validation: every bad value exits 2 with a one-line reason and writes nothing."""

import pytest
import yaml

from lowcap.errors import UserInputError
from lowcap.run.config import profile_path
from lowcap.studies.registry import load_config, parse_config

BASE = {"profile": "t", "widths": [2, 4], "epochs": 2,
        "protocols": {"corrected": {"seeds": [0]}}, "capacity": {"pairs": [[4, 9]]}}


def with_change(path: str, value):
    cfg = yaml.safe_load(yaml.safe_dump(BASE))
    *parents, last = path.split(".")
    node = cfg
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return cfg


BAD = [
    ("capacity.pairs", [[4, 10]], "digit 10"),
    ("capacity.pairs", [[3, 3]], "must differ"),
    ("widths", [0, 4], "widths.0"),
    ("lr", 0, "lr"),
    ("lr", -0.1, "lr"),
    ("lr_grid.learning_rates", [0.01, -1], "learning rate -1"),
    ("lr", 1e300, "float32's range"),
    ("lr_grid.learning_rates", [1e39], "learning rate 1e+39"),
    ("pruning.levels", [0.5, 1.0], "sparsity 1.0"),
    ("pruning.levels", [1.5], "sparsity 1.5"),
    ("epochs", 0, "epochs"),
    ("colour", "blue", "unknown key"),
    ("capacity.colour", "blue", "unknown key"),
    ("protocols", {"fancy": {}}, "unknown protocol 'fancy'"),
    ("protocols.corrected", {"batch_size": 0}, "batch_size"),
    ("protocols.corrected", {"seeds": []}, "seeds"),
    ("protocols.corrected", {"val_fraction": 1.0}, "val_fraction"),
    ("capacity.pairs", ["4-x"], "not a digit pair"),
    ("capacity.pairs", [[4.5, 9]], "two integers"),
    ("capacity.pairs", [[True, 9]], "yes/no"),
    ("capacity.pairs", [["4", "9"]], "two integers"),
    ("widths", [4.0], "valid integer"),
    ("widths", [True], "yes/no"),
    ("lr", True, "yes/no"),
    ("lr", float("nan"), "finite"),
    ("lr", float("inf"), "finite"),
    ("epochs", 2.5, "valid integer"),
    ("profile", "../elsewhere", "plain name"),
    ("profile", "/home/me", "plain name"),
    ("profile", "", "plain name"),
    ("protocols.corrected", {"seeds": [-1]}, "greater than or equal to 0"),
    ("protocols.corrected", {"seeds": [2**32]}, "less than"),
    ("protocols.corrected", {"seeds": [0.5]}, "valid integer"),
    ("protocols.corrected", {"balance": 1}, "valid boolean"),
    ("saliency.top_k", 785, "784"),
    ("tsne.max_points", 3, "50"),
]


@pytest.mark.parametrize(("path", "value", "reason"), BAD)
def test_bad_config_exits_2_and_writes_nothing(tmp_path, run_cli, path, value, reason):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(with_change(path, value)))
    out = tmp_path / "run"
    code, _, err = run_cli("reproduce", "--config", str(config), "--out", str(out), "--quiet")
    assert code == 2
    assert reason in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("text", ["[1, 2]", "profile: [unclosed", ""])
def test_non_mapping_or_invalid_yaml(tmp_path, run_cli, text):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    code, _, err = run_cli("sweep", str(config), "--out", str(tmp_path / "run"))
    assert code == 2 and str(config) in err
    assert not (tmp_path / "run").exists()


def test_missing_config_file(tmp_path, run_cli):
    code, _, err = run_cli("reproduce", "--config", str(tmp_path / "nope.yaml"))
    assert code == 2 and "nope.yaml" in err


def test_unknown_profile_and_device(run_cli):
    assert run_cli("reproduce", "--profile", "huge")[0] == 2
    assert run_cli("reproduce", "--device", "tpu")[0] == 2


@pytest.mark.parametrize("profile", ["paper", "paper-full", "quick", "smoke"])
def test_profiles_validate_and_resolve_every_default(profile):
    cfg = load_config(profile_path(profile))
    resolved = yaml.safe_load(cfg.to_yaml())
    assert {p["name"] for p in resolved["protocols"]} == {"reference", "corrected"}
    reference = next(p for p in resolved["protocols"] if p["name"] == "reference")
    assert reference["batch_size"] == "full" and reference["balance"] is True
    # The reference protocol is the paper code's computation: its draws, in float64.
    assert reference["init"] == "normal" and reference["draws"] == "paper_code"
    assert reference["dtype"] == "float64"
    seeds = {"paper": [0, 42, 78], "quick": [0, 42, 78], "smoke": [0, 42],
             "paper-full": [0, 42, 78, 1, 2, 3, 4, 5, 6, 7]}[profile]
    assert reference["seeds"] == seeds


def test_paper_code_draws_need_the_normal_init():
    with pytest.raises(UserInputError, match="set init: normal, or draws: lowcap"):
        parse_config({"protocols": {"reference": {"init": "kaiming_uniform"}}}, "cfg")
    cfg = parse_config({"protocols": {"reference": {"init": "kaiming_uniform",
                                                    "draws": "lowcap"}}}, "cfg")
    assert cfg.protocol("reference").dtype == "float64"


def test_paper_profile_is_the_paper():
    cfg = load_config(profile_path("paper"))
    assert cfg.widths == [2, 4, 6, 8, 10, 12, 16, 24, 32, 48, 64]
    assert cfg.epochs == 100 and cfg.lr == 0.03
    assert cfg.capacity.pairs == [(0, 1), (1, 7), (5, 6), (3, 8), (4, 9)]
    assert cfg.protocol("corrected").batch == 128


def test_duplicate_keys_are_an_error(tmp_path, run_cli):
    config = tmp_path / "dup.yaml"
    config.write_text("profile: a\nepochs: 2\nepochs: 3\nprotocols: {corrected: {}}\n")
    code, _, err = run_cli("reproduce", "--config", str(config), "--out", str(tmp_path / "r"))
    assert code == 2 and "'epochs' twice" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_config_that_is_not_utf8(tmp_path, run_cli):
    config = tmp_path / "latin1.yaml"
    config.write_bytes("profile: caf\u00e9\n".encode("latin-1"))
    code, _, err = run_cli("sweep", str(config), "--out", str(tmp_path / "r"))
    assert code == 2 and "UTF-8" in err and "Traceback" not in err


def test_a_width_that_cannot_fit_in_memory_is_refused_before_anything_is_written(
        tmp_path, run_cli):
    config = tmp_path / "huge.yaml"
    config.write_text(yaml.safe_dump({**BASE, "widths": [2, 50_000_000]}))
    out = tmp_path / "run"
    code, _, err = run_cli("sweep", str(config), "--out", str(out), "--quiet")
    assert code == 2 and "GiB" in err and "capacity under the corrected protocol" in err
    assert not out.exists()
