import pytest
import torch
import torch.nn.functional as F

from braindecode.decoding._losses import contrastive_loss, mixco_matrix


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)


def test_infonce_is_symmetric_cross_entropy(batch):
    p, t = batch
    logits = 10.0 * F.normalize(p, dim=1) @ F.normalize(t, dim=1).T
    labels = torch.arange(6)
    expected = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    torch.testing.assert_close(contrastive_loss(p, t, torch.tensor(10.0), "infonce"), expected)


def test_softclip_matches_mindeye_formula(batch):
    p, t = batch
    p_n, t_n = F.normalize(p, dim=1), F.normalize(t, dim=1)
    temp = 0.125
    clip_clip = (t_n @ t_n.T) / temp
    brain_clip = (p_n @ t_n.T) / temp
    loss1 = -(brain_clip.log_softmax(-1) * clip_clip.softmax(-1)).sum(-1).mean()
    loss2 = -(brain_clip.T.log_softmax(-1) * clip_clip.softmax(-1)).sum(-1).mean()
    torch.testing.assert_close(contrastive_loss(p, t, torch.tensor(1 / temp), "softclip"), (loss1 + loss2) / 2)


def test_identity_mixing_equals_infonce(batch):
    p, t = batch
    scale = torch.tensor(5.0)
    torch.testing.assert_close(contrastive_loss(p, t, scale, "softclip", mixing=torch.eye(6)),
                               contrastive_loss(p, t, scale, "infonce"))


def test_mixco_matrix_rows_mix_two_samples():
    torch.manual_seed(0)
    M = mixco_matrix(64, beta=0.15, prob=0.5)
    torch.testing.assert_close(M.sum(1), torch.ones(64))
    assert bool((M >= 0).all())
    mixed = (M.diagonal() < 1).numpy()
    assert 15 < mixed.sum() < 49  # about half of the rows are mixed
    assert bool(((M > 0).sum(1) <= 2).all())
    assert mixco_matrix(8, 0.15, prob=0.0).equal(torch.eye(8))


def test_mixing_matches_mindeye_mixco_nce(batch):
    p, t = batch
    torch.manual_seed(2)
    probs = mixco_matrix(6, beta=0.15, prob=1.0)
    brain_clip = (F.normalize(p, dim=1) @ F.normalize(t, dim=1).T) / 0.2
    loss = -(brain_clip.log_softmax(-1) * probs).sum(-1).mean()
    loss2 = -(brain_clip.T.log_softmax(-1) * probs.T).sum(-1).mean()
    torch.testing.assert_close(contrastive_loss(p, t, torch.tensor(5.0), "infonce", mixing=probs), (loss + loss2) / 2)
