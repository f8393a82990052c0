import pydantic
import pytest

from braindecode.config import Config, JobSettings, ReconstructionSettings, config_reference
from braindecode.errors import InvalidArgument, ResourceExhausted


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


def test_sections_come_from_the_file_the_environment_and_arguments(tmp_path, monkeypatch):
    path = tmp_path / "c.yaml"
    path.write_text("jobs:\n  workers: 4\n  executor: ray\nreconstruction:\n  device: cuda\n  max_batch: 8\n")
    monkeypatch.setenv("BRAINDECODE_JOB_WORKERS", "6")
    monkeypatch.setenv("BRAINDECODE_RECONSTRUCTION_BATCH_WINDOW_MS", "5.5")
    config = Config.load(path, reconstruction={"max_batch": 2})
    assert (config.jobs.workers, config.jobs.executor, config.jobs.max_attempts) == (6, "ray", 3)
    assert (config.reconstruction.device, config.reconstruction.max_batch) == ("cuda", 2)
    assert config.reconstruction.batch_window_ms == 5.5
    assert Config.load().jobs == JobSettings(workers=6)


def test_keys_that_moved_into_jobs_are_still_read(tmp_path, monkeypatch):
    path = tmp_path / "c.yaml"
    path.write_text("ray_address: ray://head:10001\nmax_jobs_per_tenant: 7\n")
    assert (Config.load(path).jobs.ray_address, Config.load(path).jobs.max_jobs_per_tenant) == ("ray://head:10001", 7)
    monkeypatch.setenv("BRAINDECODE_MAX_JOBS_PER_TENANT", "9")
    assert Config.load(path).jobs.max_jobs_per_tenant == 9
    monkeypatch.setenv("BRAINDECODE_JOB_MAX_JOBS_PER_TENANT", "3")  # the section's own variable wins
    assert Config.load(path).jobs.max_jobs_per_tenant == 3
    assert Config.load(path, max_jobs_per_tenant=1).jobs.max_jobs_per_tenant == 1
    path.write_text("max_jobs_per_tenant: 7\njobs: {max_jobs_per_tenant: 5}\n")
    monkeypatch.delenv("BRAINDECODE_JOB_MAX_JOBS_PER_TENANT")
    monkeypatch.delenv("BRAINDECODE_MAX_JOBS_PER_TENANT")
    assert Config.load(path).jobs.max_jobs_per_tenant == 5


def test_every_problem_is_listed_with_its_source(tmp_path, monkeypatch):
    path = tmp_path / "c.yaml"
    path.write_text("port: 70000\njobs:\n  executor: slurm\n  workers: 0\nreconstruction: 3\n")
    monkeypatch.setenv("BRAINDECODE_GRACE_SECONDS", "soon")
    monkeypatch.setenv("BRAINDECODE_JOB_NUM_GPUS", "-1")
    with pytest.raises(InvalidArgument) as err:
        Config.load(path, max_workers=0)
    message = str(err.value)
    expected = [f"setting 'port' ({path}) must be an integer from 0 to 65535, got 70000",
                "setting 'max_workers' must be a positive integer, got 0",
                "setting 'grace_seconds' (BRAINDECODE_GRACE_SECONDS='soon') must be a number >= 0, got 'soon'",
                f"setting 'jobs.executor' ({path}) must be one of local, ray, got 'slurm'",
                f"setting 'jobs.workers' ({path}) must be a positive integer, got 0",
                "setting 'jobs.num_gpus' (BRAINDECODE_JOB_NUM_GPUS='-1') must be a number >= 0",
                f"setting 'reconstruction' ({path}) must be a dict of model, device, max_batch"]
    for words in expected:
        assert words in message, words
    assert message.startswith(f"config has {len(expected)} problems: (1) ")
    path.write_text("jobs: {workers: 2, wrkers: 3}\n")
    with pytest.raises(InvalidArgument, match="unknown config keys: jobs.wrkers"):
        Config.load(path)


def test_settings_check_their_arguments():
    assert JobSettings(workers="3").workers == 3
    with pytest.raises(InvalidArgument) as err:
        JobSettings(executor="slurm", workers=0, bogus=1)
    assert str(err.value).startswith("JobSettings has 3 problems: (1) unknown argument 'bogus'")
    with pytest.raises(InvalidArgument, match="argument 'batch_window_ms' must be a number >= 0, got -1"):
        ReconstructionSettings(batch_window_ms=-1)
    with pytest.raises(pydantic.ValidationError, match="frozen"):  # settings are values: a change makes a copy
        JobSettings().workers = 5
    assert JobSettings().model_copy(update={"workers": 5}).workers == 5


def test_config_files_are_read_within_bounds(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("a: &x [1, 2]\nb: *x\n")
    with pytest.raises(InvalidArgument, match="uses the alias \\*x: YAML aliases are not allowed"):
        Config.load(path)
    path.write_text("port: 1\n" + "#" * 2**20)
    with pytest.raises(ResourceExhausted, match="larger than the limit of 1048576 bytes"):
        Config.load(path)
    with pytest.raises(InvalidArgument, match="cannot read config file"):
        Config.load(tmp_path / "missing.yaml")
    path.write_text("- port\n")
    with pytest.raises(InvalidArgument, match="must hold a mapping"):
        Config.load(path)


def test_the_reference_lists_every_key_and_variable():
    text = config_reference()
    for section, settings in [("", Config), ("jobs.", JobSettings), ("reconstruction.", ReconstructionSettings)]:
        for name in settings.model_fields:
            assert f"`{section}{name}`" in text, name
            if name not in Config.sections():
                assert f"`{settings.env_prefix}{name.upper()}`" in text, name
    assert "| `jobs.workers` | `BRAINDECODE_JOB_WORKERS` | a positive integer | 2 |" in text
    assert "`max_jobs_per_tenant` (`BRAINDECODE_MAX_JOBS_PER_TENANT`) for `jobs.max_jobs_per_tenant`" in text
