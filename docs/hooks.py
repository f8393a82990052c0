"""MkDocs hooks: the project's README becomes the site's ``readme.md`` page.

The README links to the guide as ``docs/<page>.md`` and the guide links to it as ``../README.md``, so
that both read right where they are stored; on the site both sit in one folder, so the links are
rewritten. (MkDocs would make a page named ``README.md`` the folder's index, in place of ``index.md``.)
"""

import pathlib
import re

from mkdocs.structure.files import File

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
PAGE = "readme.md"


def on_files(files, config):
    files.append(File.generated(config, PAGE, abs_src_path=str(README)))
    return files


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri == PAGE:
        return re.sub(r"\]\(docs/", "](", markdown)
    depth = page.file.src_uri.count("/")
    return markdown.replace("](" + "../" * (depth + 1) + "README.md", "](" + "../" * depth + PAGE)
