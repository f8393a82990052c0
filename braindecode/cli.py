"""Command line: ``braindecode serve | keys | upload | ls | show | events | rm | artifacts | export | jobs | batch
| demo``.

A user error ends the command with one line on stderr that says what to do (exit status 1 or 2).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import pathlib
import sys
import tempfile


class UserError(Exception):
    """A mistake in the command's arguments or environment, told in one line."""


def _pem(path):
    return None if path is None else pathlib.Path(path).expanduser().read_bytes()


def _client(args):
    """The Client of a client command, once its server answers (within ``--connect-timeout``)."""
    import grpc

    from braindecode.client import Client

    client = Client(args.server, api_key=args.api_key, root_certificates=_pem(args.tls_ca),
                    certificate_chain=_pem(args.tls_cert), private_key=_pem(args.tls_key))
    try:
        client.wait_ready(args.connect_timeout)
    except grpc.FutureTimeoutError:
        client.close()
        tls = "" if args.tls_ca or os.environ.get("BRAINDECODE_CLIENT_TLS_CA") else (
            "; a server that uses TLS needs --tls-ca (env BRAINDECODE_CLIENT_TLS_CA)")
        raise UserError(f"no braindecode server answers at {client.target} within {args.connect_timeout:g} s: start "
                        f"one with 'braindecode serve', or give its address with --server (env BRAINDECODE_SERVER)"
                        f"{tls}") from None
    return client


def _printable(text: str) -> str:
    """``text`` with every character a terminal would act on (escapes, newlines, NUL, bidi
    overrides) written as its Python escape, so that a stored name never drives the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _print_json(reply) -> None:
    """A client reply (a dataclass) as indented JSON."""
    print(json.dumps(dataclasses.asdict(reply), indent=2, default=lambda array: array.tolist()))


def _private_process(data_dir) -> None:
    """Make what this process creates its owner's alone (umask 077), and send its temporary files,
    those of the libraries it imports (onnxruntime writes one as it loads) and of the job workers it
    spawns included, to the store's folder for files in flight, which every start empties: a killed
    server leaves nothing in the system's temporary folder. Runs before the server's imports."""
    from braindecode._io import STORE_WORK_DIR, private_dir

    os.umask(0o077)
    work_dir = private_dir(pathlib.Path(data_dir).expanduser().resolve() / STORE_WORK_DIR)
    tempfile.tempdir = os.environ["TMPDIR"] = str(work_dir)


def _cmd_serve(args) -> int:
    from braindecode.config import Config

    config = Config.load(args.config, host=args.host, port=args.port, data_dir=args.data_dir)
    _private_process(config.data_dir)
    from services.server import serve

    serve(config)
    return 0


def _recording_line(rec) -> str:
    shape = "x".join(str(s) for s in rec.shape)
    return f"{rec.id}  {rec.modality:<5} {rec.format:<11} {shape:<18} {_printable(rec.file_name)}"


def _one(values, option: str):
    """The value of an option given at most once (None when absent)."""
    if values and len(values) > 1:
        raise UserError(f"{option} applies to every file: give it once")
    return values[0] if values else None


def _per_file(values, option: str, files: list) -> list:
    """An option given once per file, in the files' order (a list of None when absent)."""
    if not values:
        return [None] * len(files)
    if len(values) != len(files):
        raise UserError(f"{option} was given {len(values)} time(s) for {len(files)} files: give it once per file, "
                        f"in the files' order, or upload a BIDS dataset with --bids, whose runs and events come "
                        f"from its file names")
    return values


def _cmd_upload(args) -> int:
    if args.bids:
        return _upload_bids(args)
    if not args.files:
        raise UserError("name the files to upload, or a BIDS dataset with --bids ROOT")
    subject, session, task = (_one(getattr(args, o), f"--{o}") for o in ("subject", "session", "task"))
    if not subject:
        raise UserError("--subject is required (with files; a BIDS upload takes it from the file names)")
    if args.tr and len(args.files) > 1:
        raise UserError("--tr applies to one file: upload files with their repetition times one by one")
    runs, events = _per_file(args.run, "--run", args.files), _per_file(args.events, "--events", args.files)
    for path in [*args.files, *(e for e in events if e)]:
        if not pathlib.Path(path).is_file():
            raise UserError(f"{path}: no such file")
    with _client(args) as client:
        for path, run, events_file in zip(args.files, runs, events):
            rec = client.recordings.upload(path, subject=subject, session=session or "", task=task or "", run=run or "",
                                           modality=args.modality, format=args.format, events=events_file,
                                           tr=args.tr or 0.0, stimulus_column=args.stim_column)
            print(_recording_line(rec) + ("  (already stored)" if rec.already_stored else ""))
    return 0


def _upload_bids(args) -> int:
    from tqdm import tqdm

    if args.files or args.run or args.events or args.tr:
        raise UserError("--bids takes files, runs, events and repetition times from the dataset: leave out FILE, "
                        "--run, --events and --tr (--subject, --session and --task select)")
    with _client(args) as client, tqdm(total=100, unit="%", desc="upload", file=sys.stderr) as bar:
        def on_progress(progress):
            bar.n = round(100 * progress.fraction)
            bar.set_postfix_str(progress.message)

        result = client.recordings.upload_bids(args.bids, args.subject, args.session, args.task, args.stim_column,
                                               on_progress)
    for rec in result.uploaded:
        print(f"uploaded  {_recording_line(rec)}")
    for rec in result.skipped:
        print(f"skipped   {_recording_line(rec)}  (already stored)")
    for refusal in result.refused:
        print(f"refused   {refusal.path}: {refusal.reason}")
    print(f"{len(result.uploaded)} uploaded, {len(result.skipped)} skipped (already stored), "
          f"{len(result.refused)} refused")
    return 1 if result.refused else 0


def _cmd_ls(args) -> int:
    with _client(args) as client:
        rows = client.recordings.list(subject=args.subject, modality=args.modality, task=args.task)
        if not rows and (args.subject or args.modality or args.task):
            stored = client.recordings.list()
            known = {field: sorted({getattr(r, field) for r in stored}) for field in ("subject", "modality", "task")}
            asked = [f"{field} {getattr(args, field)!r}" for field in known if getattr(args, field)]
            print(f"no recording matches {' and '.join(asked)}; stored: " + "; ".join(
                f"{field} {', '.join(values) or '(none)'}" for field, values in known.items()), file=sys.stderr)
    if args.quiet:
        for rec in rows:
            print(rec.id)
        return 0
    print(f"{'id':<25} {'subject':<8} {'session':<8} {'task':<10} {'run':<4} {'modality':<8} {'format':<11} "
          f"{'shape':<18} file")
    for rec in rows:
        shape = "x".join(str(s) for s in rec.shape)
        subject, session, task = (_printable(getattr(rec, field)) for field in ("subject", "session", "task"))
        print(f"{rec.id:<25} {subject:<8} {session:<8} {task:<10} {_printable(rec.run):<4} {rec.modality:<8} "
              f"{rec.format:<11} {shape:<18} {_printable(rec.file_name)}")
    return 0


def _cmd_show(args) -> int:
    with _client(args) as client:
        rec = client.recordings.get(args.id)
    _print_json(rec)
    return 0


def _cmd_events(args) -> int:
    if bool(args.events) == args.clear:
        raise UserError("name an events.tsv to attach, or give --clear to remove the recording's events")
    with _client(args) as client:
        rec = client.recordings.set_events(args.id, [] if args.clear else args.events, args.stim_column)
    print(f"{rec.id}  {len(rec.events)} events")
    return 0


def _cmd_rm(args) -> int:
    with _client(args) as client:
        for recording_id in args.ids:
            client.recordings.delete(recording_id)
            print(f"deleted {recording_id}")
    return 0


def _cmd_export(args) -> int:
    with _client(args) as client:
        out = client.export.bids_derivatives(args.bids_derivatives, args.artifact or ())
    files = [p for p in out.rglob("*") if p.is_file()]
    print(f"wrote a BIDS derivatives dataset of {len(files)} files to {out}")
    return 0


def _cmd_keys(args) -> int:
    from braindecode.auth import KeyStore
    from braindecode.config import Config

    keys = KeyStore(Config.load(args.config, data_dir=args.data_dir).data_dir)
    if args.action == "create":
        key, record = keys.create(args.tenant, args.name)
        print(key)
        print(f"created key {record.key_id} for tenant {record.tenant}: store it now, it is not shown again; "
              "clients send it with --api-key or BRAINDECODE_API_KEY", file=sys.stderr)
    elif args.action == "list":
        for k in keys.list(args.tenant):
            state = f"revoked {k.revoked}" if k.revoked else "active"
            print(f"{k.key_id}  {k.tenant:<20} {k.name:<20} {k.created}  {state}")
    else:
        keys.revoke(args.key_id)
        print(f"revoked {args.key_id}")
    return 0


def _watch_job(client, job_id: str) -> int:
    from tqdm import tqdm

    job = None
    with tqdm(desc=job_id, unit="shard") as bar:
        for event in client.jobs.watch(job_id):
            bar.total = event.shards_total
            bar.n = event.shards_done + event.shards_failed
            eta = f"{event.eta_seconds:.0f}s" if event.eta_seconds >= 0 else "?"
            bar.set_postfix(state=event.state, failed=event.shards_failed, eta=eta)
            if event.result is not None:
                job = event.result
    if job is None:
        print(f"error: the watch of {job_id} ended before the job did", file=sys.stderr)
        return 1
    print(f"{job.id}  {job.state}  {job.shards_done} done, {job.shards_failed} failed of {job.shards_total} shards")
    for shard in job.shards:
        if shard.state == "failed":
            print(f"  shard {shard.index} ({', '.join(shard.recording_ids)}): {shard.error}", file=sys.stderr)
    return 0 if job.state == "completed" else 1


def _size(n_bytes: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n_bytes < 1024 or unit == "GiB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024


def _cmd_artifacts(args) -> int:
    from braindecode.errors import InvalidArgument

    if args.action != "ls" and not args.id:
        raise InvalidArgument(f"artifacts {args.action} needs an artifact id")
    with _client(args) as client:
        if args.action == "ls" and args.quiet:
            for artifact in client.artifacts.list(kind=args.kind):
                print(artifact.id)
        elif args.action == "ls":
            print(f"{'id':<25} {'kind':<15} {'files':>5} {'size':>10}  created")
            for artifact in client.artifacts.list(kind=args.kind):
                print(f"{artifact.id:<25} {artifact.kind:<15} {len(artifact.files):>5} {_size(artifact.size_bytes):>10}"
                      f"  {artifact.created}")
        elif args.action == "show":
            artifact = client.artifacts.get(args.id)
            shown = {"id": artifact.id, "kind": artifact.kind, "created": artifact.created,
                     "size_bytes": artifact.size_bytes,
                     "files": [dataclasses.asdict(f) for f in artifact.files],
                     "meta": artifact.meta, "provenance": artifact.provenance}
            print(json.dumps(shown, indent=2))
        elif args.action == "get":
            for path in client.artifacts.download(args.id, args.out or args.id, args.file or ()).values():
                print(path)
        else:
            client.artifacts.delete(args.id)
            print(f"deleted {args.id}")
    return 0


def _get_job(client, job_id: str, out) -> int:
    """``jobs get``: the job as JSON, or with ``--out`` its outputs laid out as ``batch merge`` does."""
    if out is None:
        _print_json(client.jobs.get(job_id))
        return 0
    fetched = client.jobs.download(job_id, out)
    job = fetched["job"]
    print(f"{job.id}  {job.state}  {len(fetched['shards'])} of {job.shards_total} shards in {out}")
    if fetched["merged"] is not None:
        print(f"merged outputs in {fetched['merged']}")
        return 0
    for index, state in fetched["missing"].items():
        print(f"  shard {index}: no outputs ({state})", file=sys.stderr)
    print("not merged: every shard must be done first", file=sys.stderr)
    return 1


def _cmd_jobs(args) -> int:
    from braindecode.errors import InvalidArgument

    if args.action != "list" and not args.target:
        raise InvalidArgument(f"jobs {args.action} needs {'a spec file' if args.action == 'submit' else 'a job id'}")
    if args.out is not None and args.action != "get":
        raise InvalidArgument("--out goes with 'jobs get'")
    with _client(args) as client:
        if args.action == "submit":
            job = client.jobs.submit(args.target, request_id=args.request_id)
            print(f"{job.id}  {job.state}  {job.shards_total} shards")
            return _watch_job(client, job.id) if args.watch else 0
        if args.action == "watch":
            return _watch_job(client, args.target)
        if args.action == "get":
            return _get_job(client, args.target, args.out)
        if args.action == "status":
            _print_json(client.jobs.get(args.target))
        elif args.action == "cancel":
            job = client.jobs.cancel(args.target)
            print(f"{job.id}  {job.state}")
        else:
            print(f"{'id':<25} {'state':<24} {'done':>9} {'failed':>6}  {'created':<25} name")
            for job in client.jobs.list(state=args.state):
                print(f"{job.id:<25} {job.state:<24} {job.shards_done:>4}/{job.shards_total:<4} "
                      f"{job.shards_failed:>6}  {job.created:<25} {job.spec.name}")
    return 0


def _cmd_batch(args) -> int:
    import pathlib

    from braindecode.config import Config
    from braindecode.jobs import merge_batch, parse_shard, read_spec, run_batch, shard_from_environment

    if args.action == "merge":
        manifest = merge_batch(args.out)
        print(f"merged {len(manifest['shards'])} shards ({manifest['n_trials']} trials) into "
              f"{pathlib.Path(args.out) / 'merged'}")
        return 0
    config = Config.load(args.config, jobs={"executor": args.executor, "workers": args.workers,
                                            "max_attempts": args.max_attempts, "device": args.device,
                                            "ray_address": args.ray_address})
    shard = parse_shard(args.shard) if args.shard else shard_from_environment()
    report = run_batch(read_spec(args.spec), args.data_dir, args.out, shard, args.tenant, config.jobs,
                       reconstruction=config.reconstruction)
    print(f"shards {shard[0]}/{shard[1]}: {len(report['done'])} done, {len(report['skipped'])} already done, "
          f"{len(report['failed'])} failed")
    for index, error in report["failed"].items():
        print(f"  shard {index}: {error}", file=sys.stderr)
    return 1 if report["failed"] else 0


def _cmd_demo(args) -> int:
    from braindecode.demo import DemoConfig, run_demo

    config = DemoConfig(out_dir=args.out, n_stimuli=args.stimuli, n_test=args.test, n_subjects=args.subjects,
                        n_runs=args.runs, seed=args.seed, server=args.server or "", api_key=args.api_key or "",
                        cross_subject=args.cross_subject, progress=not args.quiet)
    run_demo(config)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="braindecode", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    def client_command(name, help_text):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--server", help="host:port of the server (env BRAINDECODE_SERVER; default 127.0.0.1:50051)")
        p.add_argument("--api-key", help="API key (env BRAINDECODE_API_KEY); 'braindecode keys create' makes one")
        p.add_argument("--tls-ca", help="PEM file of the CA that signed the server's certificate: connect with TLS "
                                        "(env BRAINDECODE_CLIENT_TLS_CA)")
        p.add_argument("--tls-cert", help="PEM file of this client's certificate, for a server that requires mutual "
                                          "TLS (env BRAINDECODE_CLIENT_TLS_CERT)")
        p.add_argument("--tls-key", help="PEM file of the key of --tls-cert (env BRAINDECODE_CLIENT_TLS_KEY)")
        p.add_argument("--connect-timeout", type=float, default=60.0,
                       help="seconds to wait for the server to answer (default 60)")
        return p

    p = sub.add_parser("serve", help="run the gRPC server")
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 50051; 0 picks a free one)")
    p.add_argument("--data-dir", help="store folder (default ~/.braindecode, env BRAINDECODE_DATA_DIR)")
    p.add_argument("--config", help="YAML config file")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("demo", help="the whole pipeline on the embedded default data, with an HTML report")
    p.add_argument("--out", default="demo-output", help="output folder (data, store, report/index.html)")
    p.add_argument("--stimuli", type=int, default=500, help="number of stimuli (default 500)")
    p.add_argument("--test", type=int, default=100, help="held-out test stimuli (default 100)")
    p.add_argument("--subjects", type=int, default=2, help="simulated subjects (default 2)")
    p.add_argument("--runs", type=int, default=5, help="runs per subject and modality (default 5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--server", help="host:port of a running server to use instead of starting one")
    p.add_argument("--api-key", default=os.environ.get("BRAINDECODE_API_KEY"),
                   help="API key for --server (env BRAINDECODE_API_KEY)")
    p.add_argument("--cross-subject", action="store_true",
                   help="also decode a new subject from 1..runs of its runs with a shared decoder fitted on 3 other "
                        "individual subjects, against subject-only and aligned decoders (about 15 more minutes)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or summary")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("keys", help="create, list and revoke API keys (run on the server's machine)")
    actions = p.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key for a tenant; prints the key alone on stdout")
    create.add_argument("--tenant", required=True, help="the lab or project the key acts for")
    create.add_argument("--name", default="", help="a label for the key")
    listing = actions.add_parser("list", help="list the keys (never their secrets)")
    listing.add_argument("--tenant", help="only this tenant's keys")
    revoke = actions.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key_id", help="the key's id (from 'keys list')")
    for action in (create, listing, revoke):
        action.add_argument("--data-dir", help="store folder (default ~/.braindecode, env BRAINDECODE_DATA_DIR)")
        action.add_argument("--config", help="YAML config file")
    p.set_defaults(func=_cmd_keys)

    p = client_command("upload", "upload recording files, or every recording of a BIDS dataset")
    p.add_argument("files", nargs="*", help="NIfTI, GIfTI, FIF, EDF, BDF, BrainVision .vhdr, EEGLAB .set")
    p.add_argument("--bids", metavar="ROOT", help="upload every recording of this BIDS dataset (func/*_bold.nii[.gz], "
                                                  "eeg/ and meg/ files) with its entities, events and TR; "
                                                  "recordings already stored are skipped")
    p.add_argument("--subject", action="append",
                   help="files: their subject (required); --bids: only this subject (repeat for several)")
    p.add_argument("--session", action="append", help="files: their session; --bids: only this session")
    p.add_argument("--task", action="append", help="files: their task; --bids: only this task")
    p.add_argument("--run", action="append", help="files: the run of each file, once per file in order")
    p.add_argument("--events", action="append",
                   help="files: a BIDS events.tsv per file, once per file in order (onset, duration, stimulus column; "
                        "its other columns are kept for trial selections)")
    p.add_argument("--stim-column", help="the events column naming the stimuli (default: the first of stimulus_id, "
                                         "stim_file, trial_type and value that the file has)")
    p.add_argument("--tr", type=float, help="files: the fMRI repetition time in seconds, in place of the header's")
    p.add_argument("--modality", default="", help="fmri | eeg | meg (default: from the file)")
    p.add_argument("--format", default="", help="default: detected from the content")
    p.set_defaults(func=_cmd_upload)

    p = client_command("ls", "list recordings")
    p.add_argument("--subject", default="", help="with or without its 'sub-' prefix")
    p.add_argument("--modality", default="", help="fmri, eeg, meg or surface (any case)")
    p.add_argument("--task", default="")
    p.add_argument("-q", "--quiet", action="store_true", help="print the ids only")
    p.set_defaults(func=_cmd_ls)

    p = client_command("show", "show one recording")
    p.add_argument("id")
    p.set_defaults(func=_cmd_show)

    p = client_command("events", "attach events to a stored recording, replacing those it had")
    p.add_argument("id", help="the recording's id")
    p.add_argument("events", nargs="?", help="BIDS events.tsv (onset, duration, stimulus column)")
    p.add_argument("--stim-column", help="the column naming the stimuli (default: the first of stimulus_id, "
                                         "stim_file, trial_type and value that the file has)")
    p.add_argument("--clear", action="store_true", help="remove the recording's events instead")
    p.set_defaults(func=_cmd_events)

    p = client_command("rm", "delete stored recordings")
    p.add_argument("ids", nargs="+", help="recording ids")
    p.set_defaults(func=_cmd_rm)

    p = client_command("export", "write stored results out in a standard layout")
    p.add_argument("--bids-derivatives", metavar="OUT", required=True,
                   help="a new folder: the results as a BIDS derivatives dataset (score maps, embeddings, retrieval, "
                        "RDMs, RSA) with JSON sidecars carrying their provenance")
    p.add_argument("--artifact", action="append", help="only this result (repeat for several; default: all)")
    p.set_defaults(func=_cmd_export)

    p = client_command("jobs", "submit, inspect, watch and cancel batch decoding jobs, and fetch their outputs")
    p.add_argument("action", choices=["submit", "status", "watch", "cancel", "list", "get"])
    p.add_argument("target", nargs="?", help="spec file (submit) or job id (status, watch, cancel, get)")
    p.add_argument("--request-id", help="submit: idempotency key (resubmitting returns the same job)")
    p.add_argument("--watch", action="store_true", help="submit: then watch the job until it ends")
    p.add_argument("--state", default="", help="list: only jobs in this state")
    p.add_argument("--out", help="get: write the job's outputs here as 'batch merge' lays them out (job.json, "
                                 "shard-XXXXX/ folders, merged/ once every shard is done)")
    p.set_defaults(func=_cmd_jobs)

    p = client_command("artifacts", "list, show, download and delete stored results (models, maps, images, "
                                    "job outputs)")
    p.add_argument("action", choices=["ls", "show", "get", "rm"])
    p.add_argument("id", nargs="?", help="artifact id (show, get, rm)")
    p.add_argument("--kind", default="", help="ls: only this kind (activations, stimuli, decoder, encoder, "
                                              "score-map, rdm, comparison, score_matrix, reconstruction, job-output)")
    p.add_argument("--out", help="get: folder to write the files into (default: a folder named after the id)")
    p.add_argument("--file", action="append", help="get: only this file (repeat for several)")
    p.add_argument("-q", "--quiet", action="store_true", help="ls: print the ids only")
    p.set_defaults(func=_cmd_artifacts)

    p = sub.add_parser("batch", help="run job shards with no server (e.g. SLURM array tasks), then merge")
    actions = p.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="run shards i, i+n, i+2n, ... of a job spec against a store folder")
    run.add_argument("spec", help="job spec file (YAML or JSON)")
    run.add_argument("--shard", help="i/n: the i-th of n subsets of the shards, counted from 0 (default: from a SLURM "
                                     "array task's SLURM_ARRAY_TASK_ID, _MIN and _COUNT, whatever the array's "
                                     "numbering; outside an array 0/1, all shards)")
    run.add_argument("--data-dir", required=True, help="the store folder (read only)")
    run.add_argument("--out", required=True, help="output folder shared by all shard subsets")
    run.add_argument("--tenant", default="default",
                     help="whose recordings and artifacts the spec names (default: 'default', the tenant of a "
                          "server run without authentication)")
    run.add_argument("--config", help="YAML config file; the options below override its 'jobs' section and the "
                                      "BRAINDECODE_JOB_* variables (defaults: braindecode.config.JobSettings); "
                                      "its 'reconstruction.models' are the models a spec names")
    run.add_argument("--executor", help="local | ray")
    run.add_argument("--workers", type=int, help="shards run at once")
    run.add_argument("--max-attempts", type=int, help="failed attempts after which a shard is marked failed")
    run.add_argument("--device", help="torch device of the model")
    run.add_argument("--ray-address", help="an existing Ray cluster (empty: a local instance)")
    merge = actions.add_parser("merge", help="concatenate the shard folders of --out into --out/merged")
    merge.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_batch)
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    import grpc

    from braindecode.errors import BraindecodeError

    try:
        return args.func(args)
    except (BraindecodeError, UserError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except grpc.RpcError as exc:
        print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
