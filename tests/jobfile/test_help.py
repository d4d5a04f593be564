"""--cmdhelp text and the generated docs/options.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgen.errors import InputError
from loadgen.jobfile.help import option_help, options_markdown, options_overview
from loadgen.jobfile.options import OPTIONS, UNSUPPORTED

DOC = Path(__file__).resolve().parents[2] / "docs" / "options.md"


def test_checked_in_options_doc_is_the_generated_one():
    assert DOC.read_text() == options_markdown(), (
        "run: python -m loadgen.jobfile.help > docs/options.md"
    )


def test_doc_and_overview_list_every_option_and_refusal():
    doc = options_markdown()
    overview = options_overview()
    for option in OPTIONS:
        assert f"| `{option.name}` |" in doc
        assert f"  {option.name} " in overview
    for name in UNSUPPORTED:
        assert f"`{name}`" in doc


def test_option_help_details():
    text = option_help("blocksize")
    assert text.startswith("name        : bs\nalias       : blocksize\n")
    assert "default     : 4096" in text
    assert "runtime" in option_help("timeout")
    assert "default     : 10" not in option_help("rw")
    assert "not supported" in option_help("experimental_verify")
    assert option_help("all") == options_overview()


def test_option_help_unknown_suggests():
    with pytest.raises(
        InputError, match="no such option 'rwmixred' \\(did you mean 'rwmixread'\\?\\)"
    ):
        option_help("rwmixred")
