"""Command line: ``braindecode serve | upload | ls | show | demo ...``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys


def _client(args):
    from braindecode.client import Client

    return Client(args.server, api_key=args.api_key)


def _print_json(reply) -> None:
    """A client reply (a dataclass) as indented JSON."""
    print(json.dumps(dataclasses.asdict(reply), indent=2, default=lambda array: array.tolist()))


def _cmd_serve(args) -> int:
    from braindecode.config import Config
    from services.server import serve

    config = Config.load(args.config, host=args.host, port=args.port, data_dir=args.data_dir)
    serve(config)
    return 0


def _cmd_upload(args) -> int:
    with _client(args) as client:
        for path in args.files:
            rec = client.recordings.upload(path, subject=args.subject, session=args.session, task=args.task,
                                           run=args.run, modality=args.modality, format=args.format,
                                           events=args.events)
            shape = "x".join(str(s) for s in rec.shape)
            print(f"{rec.id}  {rec.modality:<5} {rec.format:<11} {shape:<18} {rec.file_name}")
    return 0


def _cmd_ls(args) -> int:
    with _client(args) as client:
        rows = client.recordings.list(subject=args.subject, modality=args.modality, task=args.task)
    print(f"{'id':<25} {'subject':<8} {'task':<10} {'modality':<8} {'format':<11} {'shape':<18} file")
    for rec in rows:
        shape = "x".join(str(s) for s in rec.shape)
        print(f"{rec.id:<25} {rec.subject:<8} {rec.task:<10} {rec.modality:<8} {rec.format:<11} "
              f"{shape:<18} {rec.file_name}")
    return 0


def _cmd_show(args) -> int:
    with _client(args) as client:
        rec = client.recordings.get(args.id)
    _print_json(rec)
    return 0


def _cmd_keys(args) -> int:
    from braindecode.auth import KeyStore
    from braindecode.config import Config

    keys = KeyStore(Config.load(args.config, data_dir=args.data_dir).data_dir)
    if args.action == "create":
        key, record = keys.create(args.tenant, args.name)
        print(f"{record.key_id}  tenant={record.tenant}\n{key}\n(store this key now: it is not shown again)")
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


def _cmd_jobs(args) -> int:
    from braindecode.errors import InvalidArgument

    if args.action != "list" and not args.target:
        raise InvalidArgument(f"jobs {args.action} needs {'a spec file' if args.action == 'submit' else 'a job id'}")
    with _client(args) as client:
        if args.action == "submit":
            job = client.jobs.submit(args.target, request_id=args.request_id)
            print(f"{job.id}  {job.state}  {job.shards_total} shards")
            return _watch_job(client, job.id) if args.watch else 0
        if args.action == "watch":
            return _watch_job(client, args.target)
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
    from braindecode.jobs import merge_batch, parse_shard, read_spec, run_batch

    if args.action == "merge":
        manifest = merge_batch(args.out)
        print(f"merged {len(manifest['shards'])} shards ({manifest['n_trials']} trials) into "
              f"{pathlib.Path(args.out) / 'merged'}")
        return 0
    settings = Config.load(args.config, jobs={"executor": args.executor, "workers": args.workers,
                                              "max_attempts": args.max_attempts, "device": args.device,
                                              "ray_address": args.ray_address}).jobs
    report = run_batch(read_spec(args.spec), args.data_dir, args.out, parse_shard(args.shard), args.tenant,
                       settings)
    print(f"shards {args.shard}: {len(report['done'])} done, {len(report['skipped'])} already done, "
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
        p.add_argument("--server", default=os.environ.get("BRAINDECODE_SERVER", "127.0.0.1:50051"),
                       help="host:port of the server (env BRAINDECODE_SERVER)")
        p.add_argument("--api-key", default=os.environ.get("BRAINDECODE_API_KEY"),
                       help="API key (env BRAINDECODE_API_KEY)")
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
    p.add_argument("action", choices=["create", "list", "revoke"])
    p.add_argument("key_id", nargs="?", help="key id, for revoke")
    p.add_argument("--tenant", help="lab or project the key acts for (create; filter for list)")
    p.add_argument("--name", default="", help="a label for the key")
    p.add_argument("--data-dir", help="store folder (default ~/.braindecode, env BRAINDECODE_DATA_DIR)")
    p.add_argument("--config", help="YAML config file")
    p.set_defaults(func=_cmd_keys)

    p = client_command("upload", "upload recording files")
    p.add_argument("files", nargs="+", help="NIfTI, GIfTI, FIF, EDF, BDF, BrainVision .vhdr, EEGLAB .set")
    p.add_argument("--subject", required=True)
    p.add_argument("--session", default="")
    p.add_argument("--task", default="")
    p.add_argument("--run", default="")
    p.add_argument("--modality", default="", help="fmri | eeg | meg (default: from the file)")
    p.add_argument("--format", default="", help="default: detected from the content")
    p.add_argument("--events", help="BIDS events.tsv (onset, duration, stimulus_id)")
    p.set_defaults(func=_cmd_upload)

    p = client_command("ls", "list recordings")
    p.add_argument("--subject", default="")
    p.add_argument("--modality", default="")
    p.add_argument("--task", default="")
    p.set_defaults(func=_cmd_ls)

    p = client_command("show", "show one recording")
    p.add_argument("id")
    p.set_defaults(func=_cmd_show)

    p = client_command("jobs", "submit, inspect, watch and cancel batch decoding jobs")
    p.add_argument("action", choices=["submit", "status", "watch", "cancel", "list"])
    p.add_argument("target", nargs="?", help="spec file (submit) or job id (status, watch, cancel)")
    p.add_argument("--request-id", help="submit: idempotency key (resubmitting returns the same job)")
    p.add_argument("--watch", action="store_true", help="submit: then watch the job until it ends")
    p.add_argument("--state", default="", help="list: only jobs in this state")
    p.set_defaults(func=_cmd_jobs)

    p = sub.add_parser("batch", help="run job shards with no server (e.g. SLURM array tasks), then merge")
    actions = p.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="run shards i, i+n, i+2n, ... of a job spec against a store folder")
    run.add_argument("spec", help="job spec file (YAML or JSON)")
    run.add_argument("--shard", default="0/1",
                     help="i/n, e.g. $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT (default 0/1: all shards)")
    run.add_argument("--data-dir", required=True, help="the store folder (read only)")
    run.add_argument("--out", required=True, help="output folder shared by all shard subsets")
    run.add_argument("--tenant", default="default", help="whose recordings and artifacts the spec names")
    run.add_argument("--config", help="YAML config file; the options below override its 'jobs' section and the "
                                      "BRAINDECODE_JOB_* variables (defaults: braindecode.config.JobSettings)")
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
    except BraindecodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except grpc.RpcError as exc:
        print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
