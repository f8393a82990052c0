import pytest

from braindecode.config import Config
from braindecode.errors import InvalidArgument


def test_file_env_and_overrides_in_order(tmp_path, monkeypatch):
    path = tmp_path / "c.yaml"
    path.write_text("port: 6000\nmax_upload_bytes: 1000\nauth: true\n")
    monkeypatch.setenv("BRAINDECODE_PORT", "7000")
    config = Config.load(path, data_dir=str(tmp_path))
    assert config.port == 7000 and config.max_upload_bytes == 1000 and config.auth is True
    assert Config.load(path, port=0).port == 0


def test_bad_config_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("prot: 1\n")
    with pytest.raises(InvalidArgument, match="unknown config keys: prot"):
        Config.load(path)
    path.write_text("port: many\n")
    with pytest.raises(InvalidArgument, match="port"):
        Config.load(path)
