"""Run the code blocks of Markdown documents as a reader would: in order, in one shell session, in a
fresh folder with a fresh store.

Blocks:

- ``bash``/``sh``/``shell`` blocks run as they are (a server started with ``&`` keeps running until
  the document ends, then gets SIGTERM);
- ``python`` blocks run with the session's ``python`` and environment;
- a ``yaml``/``json`` block whose first line is a comment naming a file (``# server.yaml``) is
  written to that file;
- a block that cannot run in a test (it installs, or needs a finished demo and a browser) is
  preceded by ``<!-- not run by the docs test: <reason> -->``; any other block fails the check.

A document may build on others (a guide page on the quickstart's server): their blocks run first, in
the same session.

Placeholders: the files a document names (``sub-01_bold.nii.gz``, ``events.tsv``, a BIDS dataset)
are written into the folder first by the builders the test gives; ``.venv`` is the running
interpreter's environment; each port of the form 5005x becomes a free port (and
``BRAINDECODE_SERVER`` the one that 50051, the default address, became).
"""

import dataclasses
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys

FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```\s*$", re.S | re.M)
NOT_RUN = re.compile(r"<!-- not run by the docs test: (?P<reason>[^>]+?) -->\s*$")
SHELL = ("bash", "sh", "shell")
FILES = ("yaml", "json")
PORT = re.compile(r"\b5005\d\b")
DEFAULT_PORT = "50051"


@dataclasses.dataclass(frozen=True)
class Block:
    """A fenced code block: its language, text, document and line there, and why it is not run (if so)."""

    lang: str
    text: str
    line: int
    not_run: str = ""
    document: str = ""


def code_blocks(path) -> list:
    """The fenced code blocks of a Markdown document, in order."""
    text = pathlib.Path(path).read_text()
    blocks = []
    for match in FENCE.finditer(text):
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = NOT_RUN.search(before)
        blocks.append(Block(match["lang"], match["body"], text.count("\n", 0, match.start()) + 1,
                            skip["reason"] if skip else "", pathlib.Path(path).name))
    return blocks


def _file_name(block: Block) -> str:
    first = block.text.split("\n", 1)[0].strip()
    return first[1:].strip() if first.startswith("#") and " " not in first[1:].strip() else ""


def check_blocks(path) -> list:
    """Problems with a document's blocks: a language the harness cannot run, a file block without its
    name, a skipped block without a reason."""
    problems = []
    for block in code_blocks(path):
        if block.not_run:
            continue
        if block.lang in FILES and not _file_name(block):
            problems.append(f"{path}:{block.line}: a {block.lang} block must start with '# <file name>'")
        elif block.lang not in SHELL + ("python",) + FILES:
            problems.append(f"{path}:{block.line}: cannot run a {block.lang or 'plain'} block; mark it "
                            "'<!-- not run by the docs test: <reason> -->' if it must not run")
    return problems


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_script(blocks, ports: dict) -> str:
    """One bash script that runs the blocks in order, each announced on stderr by its line."""
    lines = ["set -eo pipefail", "trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT"]
    for number, block in enumerate(blocks):
        if block.not_run:
            continue
        text = PORT.sub(lambda m: str(ports.setdefault(m.group(), free_port())), block.text)
        lines.append(f"echo '--- {block.document} block at line {block.line} ({block.lang})' >&2")
        if block.lang in SHELL:
            lines.append(text)
        elif block.lang == "python":
            lines.append(f"python - <<'DOCS_BLOCK_{number}'\n{text}DOCS_BLOCK_{number}")
        else:
            lines.append(f"cat > {_file_name(block)} <<'DOCS_BLOCK_{number}'\n{text}DOCS_BLOCK_{number}")
    return "\n".join(lines) + "\n"


def run_document(path, workdir, placeholders: dict, pythonpath, timeout: float = 600,
                 builds_on=()) -> subprocess.CompletedProcess:
    """Run a document's blocks in ``workdir``, after those of the documents it builds on; the
    placeholders are written there first.

    Parameters
    ----------
    path : path-like
        The Markdown document.
    workdir : pathlib.Path
        An empty folder: the session's working directory and ``HOME``.
    placeholders : dict of str -> callable
        File (or folder) name -> ``build(path)`` that writes it.
    pythonpath : path-like
        The checkout whose code runs (first on ``PYTHONPATH``).
    timeout : float
        Seconds for the whole document; past them the session and what it started are killed.
    builds_on : list of path-like
        Documents whose blocks run first, in order.

    Returns
    -------
    subprocess.CompletedProcess
        With the session's ``stdout`` and ``stderr`` as text.
    """
    workdir = pathlib.Path(workdir)
    for name, build in placeholders.items():
        build(workdir / name)
    (workdir / ".venv").symlink_to(sys.prefix)
    ports = {DEFAULT_PORT: free_port()}
    blocks = [block for document in [*builds_on, path] for block in code_blocks(document)]
    script = session_script(blocks, ports)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINDECODE_")}
    env.update(HOME=str(workdir), PYTHONPATH=str(pythonpath), PYTHONUNBUFFERED="1",
               BRAINDECODE_SERVER=f"127.0.0.1:{ports[DEFAULT_PORT]}")
    proc = subprocess.Popen(["bash", "-c", script], cwd=workdir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        err += f"\n(killed after {timeout} s)"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # anything the session left running
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
