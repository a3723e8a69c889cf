"""MkDocs hooks of the documentation site (``mkdocs.yml``: ``hooks:``).

The pages in ``docs/`` are written to read on GitHub as well as on the site, so they link
to the repository's files (``../../studies/efficiency/report.txt``) by their real relative
paths. Three things happen here:

* **Repository files.** Every file outside ``docs/`` that a page links to (a study's report,
  figure or table, ``checkpoints/README.md``, an example spec) is added to the site under
  ``repo/`` (``repo/studies/efficiency/report.txt``) and the link is rewritten to it. Markdown
  files so added (a study's ``README.md``) become pages, and what they link to is added too.
  A link to the repository's ``README.md`` goes to the site's home page instead.
* **Generated sections.** A page holding a marker gets generated text in its place:
  ``<!-- generated:cli -->`` the ``--help`` of every command (from the parser itself, so it
  cannot go stale), ``<!-- generated:cards -->`` every reproduction card in full (from the
  cards and the committed study files), ``<!-- generated:presets -->`` a table of every
  preset (from ``grokinterp.presets.PRESETS``), ``<!-- generated:repro-table -->`` and
  ``<!-- generated:perf-table -->`` README's two generated tables, copied from README.
* **Width.** ``COLUMNS`` is fixed at 80 so that argparse wraps the help text the same way
  on every machine.
"""

from __future__ import annotations

import argparse
import os
import posixpath
import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "repo"  # where the repository's files land in the site
README = ROOT / "README.md"  # a link to it goes to the site's home page, docs/index.md
# a markdown link or image: ](target) or ](target#anchor), target without spaces
_LINK = re.compile(r"(\]\()([^)\s#]+)(#[^)\s]*)?(\))")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)
_MARKER = re.compile(r"<!-- generated:([a-z-]+) -->")


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    os.environ["COLUMNS"] = "80"
    return config


def _targets(md_file: Path) -> list[Path]:
    """The files outside ``docs/`` that a markdown file links to (relative links only)."""
    out = []
    for m in _LINK.finditer(md_file.read_text(encoding="utf-8")):
        target = m[2]
        if _SCHEME.match(target) or target.startswith("/"):
            continue
        path = Path(os.path.normpath(md_file.parent / target))
        if path.is_file() and path.is_relative_to(ROOT) and not _in_docs(path):
            if path != README:  # the landing page: the site's home page stands for it
                out.append(path)
    return out


def _in_docs(path: Path) -> bool:
    return path.is_relative_to(ROOT / "docs")


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add every repository file that a page links to (and, for an added markdown page,
    what it links to) under ``repo/``."""
    docs = Path(config.docs_dir)
    todo = [docs / f.src_uri for f in files.documentation_pages()]
    added: set[Path] = set()
    while todo:
        for path in _targets(todo.pop()):
            if path in added:
                continue
            added.add(path)
            rel = path.relative_to(ROOT).as_posix()
            files.append(File.generated(config, f"{PREFIX}/{rel}", abs_src_path=str(path)))
            if path.suffix == ".md":
                todo.append(path)
    return files


def _real_path(page: Page, config: MkDocsConfig) -> Path:
    """Where the page's markdown really is (an added page lives outside ``docs/``)."""
    src = page.file.src_uri
    if src.startswith(f"{PREFIX}/"):
        return ROOT / src[len(PREFIX) + 1 :]
    return Path(config.docs_dir) / src


def _site_path(path: Path, config: MkDocsConfig) -> str | None:
    """Where a repository file is in the site: a page of ``docs/`` where it is, README at
    the home page, any other file under ``repo/``; None outside the repository."""
    if _in_docs(path):
        return path.relative_to(Path(config.docs_dir)).as_posix()
    if path == README:
        return "index.md"
    if path.is_relative_to(ROOT):
        return f"{PREFIX}/{path.relative_to(ROOT).as_posix()}"
    return None


def _rewrite_links(markdown: str, page: Page, config: MkDocsConfig) -> str:
    """Every relative link, written as the path from the page's real file to the target's,
    becomes the path between their places in the site (a page of ``docs/`` linking to a
    study's report, a study's README linking back into ``docs/``)."""
    real = _real_path(page, config)
    here = posixpath.dirname(page.file.src_uri)

    def fix(m: re.Match[str]) -> str:
        target = m[2]
        if _SCHEME.match(target) or target.startswith("/"):
            return m[0]
        site = _site_path(Path(os.path.normpath(real.parent / target)), config)
        if site is None:
            return m[0]
        return f"{m[1]}{posixpath.relpath(site, here or '.')}{m[3] or ''}{m[4]}"

    return _LINK.sub(fix, markdown)


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    markdown = _MARKER.sub(lambda m: _generate(m[1]), markdown)
    return _rewrite_links(markdown, page, config)


# -- generated sections ---------------------------------------------------------------------


def _generate(what: str) -> str:
    if what == "cli":
        return cli_reference()
    if what == "cards":
        return cards_reference()
    if what == "presets":
        return presets_table()
    if what in ("repro-table", "perf-table"):
        return readme_block(what)
    raise ValueError(f"unknown generated section {what!r}")


def readme_block(name: str) -> str:
    """README's generated table between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``."""
    text = README.read_text(encoding="utf-8")
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if begin not in text or end not in text:
        raise ValueError(f"README.md has no {begin} ... {end} block")
    return text.split(begin, 1)[1].split(end, 1)[0].strip() + "\n"


def presets_table() -> str:
    """Every preset of ``grokinterp.presets.PRESETS`` in one row: task, training set, model,
    optimizer, budget."""
    from grokinterp.presets import PRESETS

    rows = [
        "| preset | task | training set | model | optimizer | steps |",
        "|---|---|---|---|---|---|",
    ]
    for name, c in PRESETS.items():
        t, m, o = c.task, c.model, c.optim
        task = (
            t.name
            + (f", p = {t.p}" if t.p is not None else "")
            + (f", n = {t.n}" if t.n is not None else "")
        )
        train = (
            f"{t.train_size} examples" if t.train_size is not None else f"{t.train_fraction:.0%}"
        )
        if m.arch == "transformer":
            model = (f"transformer: {m.n_layers} layer(s), d_model {m.d_model}, {m.n_heads} heads "
                     f"of {m.d_head}, d_mlp {m.d_mlp}, {m.act_fn}")  # fmt: skip
            # the layout options of the other papers' transformers, where they differ
            layout = {"sequence": "a_b_eq", "normalization": "none", "positional": "learned"}
            for field, usual in layout.items():
                value = getattr(m, field, usual)
                if value != usual:
                    model += f", {field} {value}"
        else:
            model = f"{m.arch}: {m.n_layers} hidden layer(s) of {m.d_mlp}, {m.act_fn}"
        if m.init_scale != 1.0:
            model += f", init scale {m.init_scale:g}"
        batch = "full batch" if o.batch_size is None else f"batch {o.batch_size}"
        kind = {"adamw": "AdamW", "adam": "Adam", "sgd": "SGD"}.get(o.optimizer, o.optimizer)
        opt = (f"{kind} lr {o.lr:g}, weight decay {o.weight_decay:g}, betas ({o.beta1:g}, "
               f"{o.beta2:g}), {batch}")  # fmt: skip
        if o.embed_lr is not None or o.embed_weight_decay is not None:
            e_lr = o.lr if o.embed_lr is None else o.embed_lr
            e_wd = o.weight_decay if o.embed_weight_decay is None else o.embed_weight_decay
            opt += f"; the embedding lr {e_lr:g}, weight decay {e_wd:g}"
        if o.loss != "softmax":
            opt += f", loss {o.loss}"
        if o.grokfast != "none":
            opt += f", Grokfast-{o.grokfast.upper()}"
        rows.append(f"| `{name}` | {task} | {train} | {model} | {opt} | {o.max_steps:,} |")
    return "\n".join(rows) + "\n"


def _fenced(text: str) -> str:
    return f"```text\n{text.rstrip()}\n```\n"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def cli_reference() -> str:
    """``grokinterp --help``, then every command's ``--help`` by group, its subcommands'
    too; a study's shortcut shows its study's flags (``grokinterp study run NAME``)."""
    from grokinterp.cli import GROUPS, build_parser
    from grokinterp.cli.studies import STUDY_OF, study_parser
    from grokinterp.experiments.registry import STUDIES, load

    parser = build_parser()
    commands = _subparsers(parser)
    out = ["## grokinterp\n", _fenced(parser.format_help())]
    for title, group in GROUPS:
        out.append(f"## {title.split(':')[0].capitalize()}\n")
        out.append(f"{title.split(':', 1)[1].strip().capitalize()}.\n")
        for c in group:
            out.append(f"### grokinterp {c.name}\n")
            if c.name in STUDY_OF:
                out.append(
                    f"The same as [`grokinterp study run {STUDY_OF[c.name]}`]"
                    f"(#grokinterp-study-run-{STUDY_OF[c.name]}), under the name the "
                    f"command had before the study registry.\n"
                )
                continue
            sub = commands[c.name]
            out.append(_fenced(sub.format_help()))
            for name, subsub in _subparsers(sub).items():
                out.append(f"#### grokinterp {c.name} {name}\n")
                out.append(_fenced(subsub.format_help()))
    out.append("## Every study's flags\n")
    out.append(
        "`grokinterp study run NAME --help` for each registered study: one flag per field "
        "of its `Params`, with its unit, default and, where it was read, the paper's value.\n"
    )
    for name in STUDIES:
        out.append(f"### grokinterp study run {name}\n")
        out.append(_fenced(study_parser(load(name), f"grokinterp study run {name}").format_help()))
    return "\n".join(out)


def _md(text: str) -> str:
    """Text of a card as markdown text: one line, with markdown's special characters kept
    literal where they would start markup."""
    text = " ".join(text.split())
    return re.sub(r"([*_|<>\[\]])", r"\\\1", text)


def cards_reference() -> str:
    """Every reproduction card in full: the claim, each quantity (the paper's value, the
    accepted range and why, ours), the authors' configuration with sources and our
    differences, what was not run, the notes; read against the committed study files."""
    from grokinterp.experiments.cards import expected, number
    from grokinterp.experiments.registry import STUDIES
    from grokinterp.experiments.reproduce import cards, reading

    out: list[str] = []
    for study, card in cards():
        r = reading(study, card)
        out.append(f"## {card.name}\n")
        out.append(
            f"**{_md(card.paper)}** ([arXiv {card.arxiv}](https://arxiv.org/abs/{card.arxiv})). "
            f"Measured by the study `{study.name}` ({_md(STUDIES[study.name].summary)}); "
            f"committed results: `{study.committed or 'none'}`.\n"
        )
        out.append(f"**Claim.** {_md(card.claim)}\n")
        out.append(f"**Verdict: {_md(r.verdict)}.**\n")
        out.append("| quantity | paper | accepted | ours | why this range; read from |")
        out.append("|---|---|---|---|---|")
        for q, v, a in zip(card.quantities, r.values, r.agree, strict=True):
            mark = "" if a is None else (" (inside)" if a else " (outside)")
            rng = f"{number(q.accept[0])} to {number(q.accept[1])}"
            out.append(
                f"| {_md(q.name)} | {_md(expected(q))} | {rng} | {number(v)}{mark} | "
                f"{_md(q.tolerance)}; `{', '.join(q.files)}` |"
            )
        out.append("")
        out.append("**The authors' configuration** (theirs, where it was read, ours where it "
                   "differs and why):\n")  # fmt: skip
        for s in card.setup:
            ours = f" **Ours:** {_md(s.ours)} ({_md(s.why)})" if s.ours is not None else ""
            out.append(f"- **{_md(s.what)}**: {_md(s.theirs)} [{_md(s.source)}].{ours}")
        out.append("")
        if card.not_run:
            out.append("**Not run, and why:**\n")
            out += [f"- {_md(n)}" for n in card.not_run]
            out.append("")
        if card.notes:
            out.append(f"{_md(card.notes)}\n")
    return "\n".join(out)
