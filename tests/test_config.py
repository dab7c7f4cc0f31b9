from __future__ import annotations

import pytest

from hadml import _core
from hadml.config import ConfigError, GeneratorConfig, load_config, parse_set_options


def test_defaults_are_herwig_7_3():
    p = _core.default_params()
    assert p["ClMaxLight"] == pytest.approx(3.528693)
    assert p["ClPowLight"] == pytest.approx(1.849375)
    assert p["PSplitLight"] == pytest.approx(0.914156)
    assert p["PwtSquark"] == pytest.approx(0.374094)
    assert p["PwtDIquark"] == pytest.approx(0.33107)
    assert p["ClSmrLight"] == pytest.approx(0.78)
    assert p["GluonMass"] == pytest.approx(0.95)


def test_yaml_and_overrides(tmp_path):
    f = tmp_path / "tune.yaml"
    f.write_text(
        "ecm: 91.2\ncluster:\n  ClMaxLight: 3.7\n"
        "pythia:\n  - 'TimeShower:alphaSvalue = 0.13'\n"
    )
    cfg = load_config(f, parse_set_options(["PwtSquark=0.4", "seed=9", "hadronization=ml"]))
    assert cfg.ecm == 91.2 and cfg.seed == 9 and cfg.hadronization == "ml"
    params = cfg.cluster_params()
    assert params["ClMaxLight"] == 3.7 and params["PwtSquark"] == 0.4
    assert cfg.pythia == ["TimeShower:alphaSvalue = 0.13"]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"ClMaxLigth": "3"}, "unknown option 'ClMaxLigth'"),
        ({"ecm": "abc"}, "cannot use value"),
        ({"ClMaxLight": "-1"}, "ClMax"),
        ({"hadronization": "string"}, "hadronization must be one of"),
        ({"ColourReconnection": "0.5"}, "integer"),
    ],
)
def test_bad_options_are_refused_with_a_clear_message(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=overrides).validate()


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("ecm: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="key=value"):
        parse_set_options(["ClMaxLight"])
    with pytest.raises(ConfigError, match="does not exist"):
        GeneratorConfig(model=str(tmp_path / "none.onnx")).validate()
