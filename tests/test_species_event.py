"""Event-level fit of a format-2 model (hadml.train.species_event, docs/species.md): the
straight-through Gumbel choice, and that the species reach the discriminator and the
gradient reaches the species head only through the species input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hadml.train.species_event import (
    SpeciesEventConfig,
    SpeciesEventFit,
    closed_fractions,
    gumbel_choice,
    species_onehot,
)


def test_gumbel_choice_draws_the_contract_distribution() -> None:
    """Gumbel-max over log weights draws index k with probability w_k / sum w; a closed
    pair (-inf) is never drawn; the forward one-hot is exact."""
    log_w = torch.log(torch.tensor([[0.1, 0.2, 0.0, 0.7]])).repeat(40000, 1)
    idx, onehot = gumbel_choice(log_w, 1.0, torch.Generator().manual_seed(1))
    freq = np.bincount(idx.numpy(), minlength=4) / len(idx)
    # binomial errors at 40000 draws: 0.0015 - 0.0023
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.0, 0.7], atol=0.008)
    assert torch.equal(onehot.detach(), torch.nn.functional.one_hot(idx, 4).float())


def test_gumbel_choice_passes_the_softmax_gradient() -> None:
    """Straight-through: d(sum c_k y_k)/d log w equals the gradient of the relaxed
    softmax((log w + g) / tau) for the same Gumbel noise (tau = 0.5)."""
    lw = torch.tensor([[0.3, -0.2, 1.0]], requires_grad=True)
    c = torch.tensor([1.0, -2.0, 0.5])
    _, y = gumbel_choice(lw, 0.5, torch.Generator().manual_seed(3))
    (y * c).sum().backward()
    g_st = lw.grad.clone()
    lw2 = lw.detach().clone().requires_grad_(True)
    u = torch.rand(lw.shape, generator=torch.Generator().manual_seed(3),
                   dtype=lw.dtype).clamp(1e-12, 1 - 1e-12)
    soft = torch.softmax((lw2 - torch.log(-torch.log(u))) / 0.5, dim=1)
    (soft * c).sum().backward()
    torch.testing.assert_close(g_st, lw2.grad)
    assert g_st.abs().sum() > 0.1


def test_species_onehot_sums_pair_weights_into_columns() -> None:
    cols = torch.tensor([[0, 2, 2], [1, 1, 0]])
    w = torch.tensor([[0.0, 1.0, 0.0], [0.25, 0.25, 0.5]])
    out = species_onehot(cols, w, 4)
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.0, 1.0, 0.0], [0.5, 0.5, 0.0, 0.0]]))


def test_closed_fractions() -> None:
    before = {"rate_2212": 0.40, "target_rate_2212": 0.50}
    now = {"rate_2212": 0.46, "target_rate_2212": 0.50}
    assert closed_fractions(before, now) == pytest.approx({2212: 0.6})


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="recorded keeps the table's species"):
        SpeciesEventConfig(species_source="recorded").validate()
    with pytest.raises(ValueError, match="nothing to train"):
        SpeciesEventConfig(train_species=False).validate()
    with pytest.raises(ValueError, match="the discriminator sees nothing"):
        SpeciesEventConfig(disc_kinematics=False, disc_species=False).validate()
    with pytest.raises(ValueError, match="train_angles needs the kinematics"):
        SpeciesEventConfig(disc_kinematics=False, train_angles=True).validate()
    with pytest.raises(ValueError, match="unknown species_event options"):
        SpeciesEventConfig.from_dict({"model": "species_event", "lr": 1})
    assert SpeciesEventConfig.from_dict({"model": "species_event", "lr_species": "3e-5"}
                                        ).lr_species == pytest.approx(3e-5)


@pytest.fixture(scope="module")
def fit_inputs(tmp_path_factory):
    """A species head (1 epoch of likelihood) and a cluster-level GAN checkpoint (smoke
    recipe, 1 epoch) on 300 classic events."""
    import hadml
    from hadml.train import load_train_config, train
    from hadml.train.species import SpeciesConfig, train_species

    tmp = tmp_path_factory.mktemp("species_event")
    table = hadml.generate(300, seed=3, collect_clusters=True, keep_events=False).cluster_table
    head = train_species(SpeciesConfig(max_epochs=1, hidden=16, layers=1, batch_size=256,
                                       out_dir=str(tmp)), table=table, log=lambda _: None)
    cfg = load_train_config("smoke", [f"out_dir={tmp}", "max_epochs=1"])
    angles = train(cfg, table=table)
    return table, head.checkpoint, angles.best_checkpoint


@pytest.mark.parametrize("disc_species", [False, True])
def test_gradient_reaches_the_head_through_the_species_input(fit_inputs, disc_species) -> None:
    """The kinematics carry no gradient to the species head: without the species input
    the head's gradient is exactly 0; with it, it is not, so the fit can move rates."""
    table, head_ckpt, angle_ckpt = fit_inputs
    cfg = SpeciesEventConfig(species_from=str(head_ckpt), angles_from=str(angle_ckpt),
                             disc_species=disc_species, events_per_batch=16,
                             max_val_clusters=500)
    fit = SpeciesEventFit(cfg, table, table, log=lambda _: None)
    before = [p.detach().clone() for p in fit.head.parameters()]
    fit.step(0.0)
    grad = sum(float(p.grad.abs().sum()) for p in fit.head.parameters() if p.grad is not None)
    moved = any(not torch.equal(a, b) for a, b in zip(before, fit.head.parameters(),
                                                      strict=True))
    if disc_species:
        assert grad > 0 and moved
    else:
        assert grad == 0.0
    ev = fit.evaluate()
    assert ev["target_rate_211"] > 1.0 and ev["w_cos_theta"] >= 0.0


def test_species_only_discriminator_ignores_the_kinematics(fit_inputs) -> None:
    """disc_kinematics: false: each hadron's input is its role and species one-hot only, so
    two decays with other momenta but the same species give the same set; the head still
    gets a gradient (through the species input)."""
    table, head_ckpt, angle_ckpt = fit_inputs
    cfg = SpeciesEventConfig(species_from=str(head_ckpt), angles_from=str(angle_ckpt),
                             disc_kinematics=False, estimator="score", species_params="offsets",
                             events_per_batch=16, max_val_clusters=500)
    fit = SpeciesEventFit(cfg, table, table, log=lambda _: None)
    p1, p2, oh1, oh2 = fit.generate("train", np.arange(40))
    x = fit._set(p1, p2, oh1, oh2)
    assert x.shape == (80, 1 + fit.n_columns)
    torch.testing.assert_close(x[:, 0], torch.cat([torch.ones(40), torch.zeros(40)]))
    torch.testing.assert_close(x, fit._set(2 * p1, 0.5 * p2, oh1, oh2))
    assert x[:, 1:].sum(dim=1).eq(1).all()  # one species per hadron
    fit.step(0.0)
    assert float(fit.head.offsets.grad.abs().sum()) > 0


def test_average_offset_fits_averages_the_last_bias(fit_inputs, tmp_path) -> None:
    """The mean of offset fits: the last layer's bias averaged, every other weight kept;
    fits that differ elsewhere are refused."""
    from hadml.train.species_event import average_offset_fits

    _, head_ckpt, _ = fit_inputs
    saved = torch.load(head_ckpt, weights_only=False)
    bias = [k for k in saved["state_dict"] if k.endswith(".bias")][-1]
    paths = []
    for i, shift in enumerate((0.3, -0.1, 0.7)):
        s = dict(saved, state_dict=dict(saved["state_dict"]))
        s["state_dict"][bias] = saved["state_dict"][bias] + shift * torch.arange(
            len(saved["state_dict"][bias]), dtype=torch.float32)
        paths.append(tmp_path / f"fit{i}.pt")
        torch.save(s, paths[-1])
    out = average_offset_fits(paths, tmp_path / "avg.pt")
    avg = torch.load(out, weights_only=False)["state_dict"]
    n = len(saved["state_dict"][bias])
    torch.testing.assert_close(avg[bias], saved["state_dict"][bias]
                               + 0.3 * torch.arange(n, dtype=torch.float32))
    for k, v in saved["state_dict"].items():
        if k != bias:
            assert torch.equal(avg[k], v)
    s = torch.load(paths[1], weights_only=False)
    first = next(iter(s["state_dict"]))
    s["state_dict"][first] = s["state_dict"][first] + 1.0
    torch.save(s, paths[1])
    existing = tmp_path / "bad.pt"
    existing.write_bytes(b"kept")
    with pytest.raises(ValueError, match="beyond the last layer's bias"):
        average_offset_fits(paths, existing)
    assert existing.read_bytes() == b"kept"  # a refused average leaves the file alone
    s["state_dict"][first] = saved["state_dict"][first]
    s["species"] = list(s["species"])[::-1]
    torch.save(s, paths[1])
    with pytest.raises(ValueError, match="another species list"):
        average_offset_fits(paths, existing)


def _short_offset_fit(fit_inputs, tmp_path: Path, species_params: str) -> SpeciesEventConfig:
    """A two-step score-function fit of ``species_params`` that exports a format-2 file."""
    _, head_ckpt, angle_ckpt = fit_inputs
    return SpeciesEventConfig(species_from=str(head_ckpt), angles_from=str(angle_ckpt),
                              estimator="score", species_params=species_params,
                              events_per_batch=16, batches_per_epoch=2, max_epochs=1,
                              max_val_clusters=500, out_dir=str(tmp_path), name=species_params,
                              export=str(tmp_path / f"{species_params}.onnx"))


def test_flavour_offsets_fit_saves_a_head_that_exports(fit_inputs, tmp_path) -> None:
    """species_params: flavour_offsets: the constituent classes come from the head's own
    inputs (u/d 0, s 1, c 2, b 3, diquark 4, as the table's c1/c2 ids say); one step moves
    the offsets; the saved checkpoint loads as the wrapper with those offsets and exports
    to a format-2 file whose logits equal torch's (export_species_model verifies)."""
    from hadml.data.features import heaviest_quark
    from hadml.train.species import FlavourOffsetHead, load_head
    from hadml.train.species_event import train_species_event

    table = fit_inputs[0]
    cfg = _short_offset_fit(fit_inputs, tmp_path, "flavour_offsets")
    fit = SpeciesEventFit(cfg, table, table, log=lambda _: None)
    sd = fit.data["train"]["species"]
    cls = fit.head.constituent_class(sd.x).numpy()
    c1 = fit.data["train"]["requests"]["c1_id"]
    want = np.where(np.abs(c1) > 1000, 4, np.maximum(heaviest_quark(c1) - 2, 0))
    np.testing.assert_array_equal(cls[:, 0], want)
    assert set(np.unique(cls[:, 0])) >= {0, 1, 2, 3}
    fit.step(0.0)
    assert float(fit.head.offsets.grad.abs().sum()) > 0
    res = train_species_event(cfg, table, table, log=lambda _: None)
    head, saved = load_head(res.checkpoint)
    assert isinstance(head, FlavourOffsetHead)
    assert saved["flavour_offsets"].shape == (2, 5, len(saved["species"]))
    assert float(saved["flavour_offsets"].abs().sum()) > 0
    assert res.exported is not None and res.exported.stat().st_size > 0


def test_popped_class_table_follows_the_quark_content() -> None:
    """The popped flavour's class next to a constituent of each class (0 u/d, 1 s, 2 c,
    3 b; 4-6 a diquark with 0-2 s; POPPED_NONE), from the PDG digits."""
    from hadml.train.species import POPPED_NONE, popped_class_table

    ids = [211, 321, 221, 333, 421, 2212, 3122, 531, 3312]
    t = popped_class_table(ids)
    col = {h: t[:, k].tolist() for k, h in enumerate(ids)}
    n = POPPED_NONE
    assert col[211] == [0, n, n, n]  # pi+: u/d next to u/d
    assert col[321] == [1, 0, n, n]  # K+: s next to u, u next to sbar
    assert col[221] == [0, 1, n, n]  # eta: u ubar / d dbar / s sbar mixture
    assert col[333] == [0, 1, n, n]
    assert col[421] == [2, n, 0, n]  # D0: c next to ubar, u next to c
    assert col[2212] == [4, n, n, n]  # p: a diquark next to u or d
    assert col[3122] == [5, 4, n, n]  # Lambda: ds/us next to u/d, ud next to s
    assert col[3312] == [6, 5, n, n]  # Xi-: ss next to d, ds next to s
    assert col[531] == [n, 3, n, 1]  # B_s0: b next to s, s next to b


def test_popped_offsets_act_as_flavour_weights_and_export(fit_inputs, tmp_path) -> None:
    """species_params: popped_offsets: side-1 logits move by the popped class's offset
    (none for a diquark constituent), side 2 never; four parameters get gradients; the
    saved checkpoint is an ordinary flavour-offset head that exports."""
    from hadml.train.species import (
        POPPED_NONE,
        FlavourOffsetHead,
        PoppedFlavourOffsetHead,
        load_head,
    )
    from hadml.train.species_event import train_species_event

    table = fit_inputs[0]
    cfg = _short_offset_fit(fit_inputs, tmp_path, "popped_offsets")
    fit = SpeciesEventFit(cfg, table, table, log=lambda _: None)
    head = fit.head
    assert isinstance(head, PoppedFlavourOffsetHead)
    assert [p.numel() for p in head.parameters() if p.requires_grad] == [4]
    with torch.no_grad():
        head.popped_offsets.copy_(torch.tensor([0.5, 0.0, 0.0, -1.0]))  # w_s, w_c, w_b, w_dq
    x = fit.data["train"]["species"].x[:400]
    diff = (head(x) - head.head(x)).detach().numpy()
    cls = head.constituent_class(x).numpy()
    table_ = head.popped.numpy()
    per_class = np.array([0.0, 0.5, 0.0, 0.0, -1.0, -0.5, 0.0, 0.0])  # dq + k s
    s = head.n_species
    for row in range(len(x)):
        c1 = cls[row, 0]
        want = np.zeros(s) if c1 == 4 else per_class[table_[c1]]
        np.testing.assert_allclose(diff[row, :s], want, atol=1e-6)
    np.testing.assert_array_equal(diff[:, s:], 0.0)
    assert (table_ != POPPED_NONE).any()
    fit.step(0.0)
    assert float(head.popped_offsets.grad.abs().sum()) > 0
    res = train_species_event(cfg, table, table, log=lambda _: None)
    loaded, saved = load_head(res.checkpoint)
    assert isinstance(loaded, FlavourOffsetHead)
    off = saved["flavour_offsets"]
    assert off.shape == (2, 5, len(saved["species"]))
    assert float(off[1].abs().sum()) == 0.0 and float(off[0, 4].abs().sum()) == 0.0
    assert res.exported is not None and res.exported.stat().st_size > 0
