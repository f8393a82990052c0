import numpy as np
import onnx
import pytest
import torch

from braindecode.decoding import MLPDecoder, OnnxDecoder, export_decoder_onnx
from braindecode.errors import FailedPrecondition, InvalidArgument, NotFound

KINDS = ["ridge", "ridge-eeg", "mlp", "eeg"]


@pytest.mark.parametrize("kind", KINDS)
def test_onnx_outputs_equal_torch(fitted_decoders, tmp_path, kind):
    model, X = fitted_decoders[kind]
    path = export_decoder_onnx(model, tmp_path / "decoder.onnx")
    runtime = OnnxDecoder(path, device="cpu")
    assert (runtime.modality, runtime.input_shape_, runtime.n_dims_) == (model.modality, model.input_shape_,
                                                                        model.n_dims_)
    np.testing.assert_allclose(runtime.predict(X), model.predict(X), rtol=1e-5, atol=1e-5)
    # dynamic batch: one sample and an uneven last batch
    np.testing.assert_allclose(runtime.predict(X[:1]), model.predict(X[:1]), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(runtime.predict(X, batch_size=7), model.predict(X), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["ridge", "eeg"])
def test_predict_each_equals_predict_per_block(fitted_decoders, tmp_path, kind):
    model, X = fitted_decoders[kind]
    runtime = OnnxDecoder(export_decoder_onnx(model, tmp_path / "decoder.onnx"))
    blocks = [X[:1], X[1:4], X[4:5]]
    each = runtime.predict_each(blocks)
    assert [len(Y) for Y in each] == [1, 3, 1]
    for block, Y in zip(blocks, each):
        np.testing.assert_allclose(Y, runtime.predict(block), rtol=1e-5, atol=1e-5)


def test_onnx_decoder_session_has_the_thread_count_asked_for(fitted_decoders, tmp_path):
    model, X = fitted_decoders["ridge"]
    path = export_decoder_onnx(model, tmp_path / "decoder.onnx")
    one = OnnxDecoder(path, device="cpu", threads=1)
    assert one.session_.get_session_options().intra_op_num_threads == 1
    np.testing.assert_allclose(one.predict(X), model.predict(X), rtol=1e-5, atol=1e-5)


def test_exported_graph_has_opset_dynamic_batch_and_metadata(fitted_decoders, tmp_path):
    model, _ = fitted_decoders["eeg"]
    graph = onnx.load(export_decoder_onnx(model, tmp_path / "d.onnx", opset=18))
    onnx.checker.check_model(graph)
    assert max(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")) == 18
    batch = graph.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param == "batch"
    meta = {p.key: p.value for p in graph.metadata_props}
    assert meta["braindecode.modality"] == "eeg" and meta["braindecode.input_shape"] == "[3, 24]"
    assert meta["braindecode.class"] == "EEGDecoder"


def test_onnx_decoder_checks_input(fitted_decoders, tmp_path):
    model, X = fitted_decoders["eeg"]
    runtime = OnnxDecoder(export_decoder_onnx(model, tmp_path / "d.onnx"))
    assert runtime.check_input(X[:2].astype(np.float64)).dtype == np.float32
    with pytest.raises(InvalidArgument, match="looks like fMRI"):
        runtime.check_input(X.reshape(len(X), -1))
    with pytest.raises(InvalidArgument, match="looks like fMRI"):
        runtime.predict(X.reshape(len(X), -1))
    with pytest.raises(InvalidArgument, match=r"shape \(3, 24\), got \(3, 23\)"):
        runtime.predict(X[:, :, :23])
    with pytest.raises(InvalidArgument, match="NaN"):
        runtime.predict(np.full_like(X[:2], np.nan))


def test_export_refuses_bad_requests(fitted_decoders, tmp_path):
    with pytest.raises(FailedPrecondition, match="not fitted"):
        export_decoder_onnx(MLPDecoder(), tmp_path / "d.onnx")
    with pytest.raises(InvalidArgument, match="opset must be at least 17"):
        export_decoder_onnx(fitted_decoders["ridge"][0], tmp_path / "d.onnx", opset=13)
    with pytest.raises(InvalidArgument, match="not a decoder"):
        export_decoder_onnx(torch.nn.Linear(2, 2), tmp_path / "d.onnx")
    assert not list(tmp_path.iterdir())


def test_onnx_decoder_refuses_other_files(tmp_path):
    with pytest.raises(NotFound, match="no ONNX decoder"):
        OnnxDecoder(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(InvalidArgument, match="not a readable ONNX model"):
        OnnxDecoder(tmp_path / "junk.onnx")
    plain = tmp_path / "plain.onnx"
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, 2])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None, 2])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "plain", [x], [y])
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), plain)
    with pytest.raises(InvalidArgument, match="decoder metadata missing"):
        OnnxDecoder(plain)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_onnx_on_cuda(fitted_decoders, tmp_path):
    model, X = fitted_decoders["mlp"]
    runtime = OnnxDecoder(export_decoder_onnx(model, tmp_path / "d.onnx"), device="cuda")
    np.testing.assert_allclose(runtime.predict(X), model.predict(X), rtol=1e-4, atol=1e-4)
