"""The README starts with the architecture and stays short; it and the reference pages in docs/ stay true to
the code they describe."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from mlds_assets.core.schema import POST_COLUMNS, QUARANTINE_COLUMNS
from mlds_assets.settings import Settings

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
PAGES = sorted((REPO / "docs").glob("*.md"))
DOCS = "\n".join([README, *(page.read_text() for page in PAGES)])  # facts may live on any of them


def test_every_canonical_column_is_documented():
    missing = [c for c in [*POST_COLUMNS, *QUARANTINE_COLUMNS] if f"`{c}`" not in DOCS and c not in DOCS]
    assert not missing


def test_every_global_setting_is_documented():
    sections = [name for name, field in Settings.model_fields.items() if isinstance(field.default, BaseModel)]
    keys = []
    for section in sections:
        for name, value in type(getattr(Settings(), section)).model_fields.items():
            nested = isinstance(value.default, BaseModel)  # documented as a group: `store.weaviate.*`
            keys.append(f"{section}.{name}.*" if nested else f"{section}.{name}")
    assert [k for k in keys if f"`{k}`" not in DOCS] == []


def test_readme_opens_with_the_two_commands():
    head = README[:600]
    assert "make demo" in head and "make test" in head


def test_readme_is_short_and_shows_the_architecture_in_its_first_screen():
    lines = README.splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; move detail to docs/"
    first_screen = "\n".join(lines[:60])
    diagram = re.search(r"```text\n(.*?)```", first_screen, re.S)
    assert diagram, "the architecture diagram (a ```text block) must be in the README's first 60 lines"
    for name in ("raw_posts", "post_collection", "sentiment_scores", "resolved_entities", "reports"):  # the graph
        assert name in diagram.group(1), name
    for layer in ("core", "store", "assets", "service", "CLI", "API", "UI"):  # the layers and the faces
        assert layer in diagram.group(1), layer


def test_the_readme_links_every_docs_page_and_every_link_resolves():
    linked = set(re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", DOCS))
    for page in [REPO / "README.md", *PAGES]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"
    assert {p.name for p in PAGES} <= {Path(t).name for t in linked if t.startswith("docs/")}
    assert {"configuration.md", "benchmarks.md", "reliability.md", "deployment.md"} <= {p.name for p in PAGES}


def test_every_command_mlds_offers_is_documented(capsys):
    """Every subcommand `mlds --help` lists is in the CLI reference, and the README names it."""
    from importlib.metadata import entry_points

    main = next(e for e in entry_points(group="console_scripts") if e.name == "mlds").load()
    with pytest.raises(SystemExit):
        main(["--help"])
    listed = re.search(r"\{([a-z,_-]+)\}", capsys.readouterr().out)
    assert listed, "mlds --help lists its commands in braces"
    reference = (REPO / "docs" / "cli.md").read_text()
    for command in listed.group(1).split(","):
        assert f"`mlds {command}" in reference, command
        assert f"mlds {command}" in README, command


def test_the_suites_wall_time_is_stated():
    assert re.search(r"\*\*\d+ s on 2 cores\*\*", README)


def test_the_api_latency_is_a_benchmark_not_a_check_of_the_daily_run():
    assert "api_latency" not in DOCS
    assert "How runs are launched" in README and "## How runs are launched" in (REPO / "docs/deployment.md").read_text()
