import numpy as np
import pytest

from braindecode.containers import ActivationSet
from braindecode.errors import NotFound
from braindecode.store import Store, load_activation_set, load_arrays, save_activation_set, save_arrays


def test_activation_set_round_trip_is_tenant_scoped(tmp_path):
    store = Store(tmp_path)
    rng = np.random.default_rng(0)
    aset = ActivationSet(["b", "a", "c"], {"stem": rng.standard_normal((3, 5)).astype(np.float32),
                                           "head": rng.standard_normal((3, 2)).astype(np.float32)},
                         "efficientnet-lite0", {"pooling": "avg"})
    art = save_activation_set(store, "lab-a", aset, {"stimuli": "set-1"})
    back = load_activation_set(store, "lab-a", art.id)
    assert back.layer_names == ["stem", "head"] and list(back.stimulus_ids) == ["b", "a", "c"]
    for name in aset.layers:
        np.testing.assert_array_equal(back[name], aset[name])
    assert back.model == "efficientnet-lite0" and back.info == {"pooling": "avg"}
    with pytest.raises(NotFound):
        load_activation_set(store, "lab-b", art.id)


def test_identical_arrays_give_identical_blobs(tmp_path):
    store = Store(tmp_path)
    a = save_arrays(store, "t", "embeddings", {"x": np.arange(6.0).reshape(2, 3)})
    b = save_arrays(store, "t", "embeddings", {"x": np.arange(6.0).reshape(2, 3)})
    assert a.files == b.files
    np.testing.assert_array_equal(load_arrays(store, "t", a.id)["x"], np.arange(6.0).reshape(2, 3))
