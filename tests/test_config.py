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
        "pythia:\n  - 'TimeShower:nGluonToQuark = 4'\n"
    )
    cfg = load_config(f, parse_set_options(["PwtSquark=0.4", "seed=9", "hadronization=ml"]))
    assert cfg.ecm == 91.2 and cfg.seed == 9 and cfg.hadronization == "ml"
    params = cfg.cluster_params()
    assert params["ClMaxLight"] == 3.7 and params["PwtSquark"] == 0.4
    assert cfg.pythia == ["TimeShower:nGluonToQuark = 4"]


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
        GeneratorConfig(model=str(tmp_path / "none.onnx"), hadronization="ml").validate()


def test_tunes_layer_under_the_config(tmp_path):
    from hadml import _core
    from hadml.config import load_tune

    herwig = load_config(overrides={"tune": "herwig73"})
    assert herwig.cluster_params() == dict(_core.default_params())
    assert herwig.effective_shower_pt_min() == 0.655
    # The shipped LEP tune is the default and sets only known parameters.
    lep = load_tune("lep")
    default = GeneratorConfig()
    assert default.tune == "lep"
    for name, value in lep.get("cluster", {}).items():
        assert default.cluster_params()[name] == value
    # A tune file, under an explicit override.
    f = tmp_path / "t.yaml"
    f.write_text("shower_pt_min: 0.9\ncluster: {ClMaxLight: 3.1, PwtSquark: 0.3}\n")
    cfg = load_config(overrides={"tune": str(f), "PwtSquark": 0.35})
    assert cfg.effective_shower_pt_min() == 0.9
    assert cfg.cluster_params()["ClMaxLight"] == 3.1
    assert cfg.cluster_params()["PwtSquark"] == 0.35
    bad = tmp_path / "bad.yaml"
    bad.write_text("cluster: {NoSuch: 1}\n")
    with pytest.raises(ConfigError, match="NoSuch"):
        load_config(overrides={"tune": str(bad)}).validate()
    with pytest.raises(ConfigError, match="neither one of"):
        load_config(overrides={"tune": "atlas"}).validate()
