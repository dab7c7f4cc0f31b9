"""The ensemble recipe: member configs of a training config (issue 12, item 4)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from hadml.train.config import TrainConfig  # noqa: E402


def test_member_configs() -> None:
    cfg = TrainConfig.from_dict({"name": "cg", "seed": 42, "members": 3,
                                 "export": "out/default_cluster_decay.onnx"})
    members = cfg.member_configs()
    assert [m.seed for m in members] == [42, 43, 44]
    assert [m.name for m in members] == ["cg", "cg-member1", "cg-member2"]
    assert [m.export for m in members] == [
        "out/default_cluster_decay.onnx", "out/default_cluster_decay.member1.onnx",
        "out/default_cluster_decay.member2.onnx"]
    assert all(m.members == 1 for m in members)
    # Everything else is the central model's config.
    assert {m.to_dict()["data"]["split_seed"] for m in members} == {cfg.data.split_seed}
    assert TrainConfig.from_dict({}).member_configs() == [TrainConfig.from_dict({})]


def test_members_must_be_positive() -> None:
    with pytest.raises(ValueError, match="members must be >= 1, not 0"):
        TrainConfig.from_dict({"members": 0})
