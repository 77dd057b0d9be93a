"""Fuzz targets for the parts that read untrusted text outside HTTP routing: catalog YAML
(``parse_catalog``), the CLI's ``--set KEY=VALUE`` pairs (``parse_pairs``) and provider
callback bodies (the strict body reader, then ``CallbackCreate``).

Each target may only succeed or raise its documented error (``InvalidCatalog``,
``InvalidRequest``, a model ``ValidationError``), and every error renders as valid JSON.
Briefly in the suite (``GENCREDITS_FUZZ_EXAMPLES``, default 60 per target); longer on
demand, e.g. ``GENCREDITS_FUZZ_EXAMPLES=100000 .venv/bin/pytest tests/test_fuzz_untrusted_text.py``.
"""

from __future__ import annotations

import json
import os
from importlib import resources

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gencredits.api.body import parse_body
from gencredits.api.errors import response_for
from gencredits.api.schemas import CallbackCreate
from gencredits.cli._app import parse_pairs
from gencredits.errors import InvalidCatalog, InvalidRequest
from gencredits.pricing import parse_catalog

EXAMPLES = int(os.environ.get("GENCREDITS_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
CATALOG = (resources.files("gencredits") / "catalogs" / "api-pricing.yaml").read_text("utf-8")
HOSTILE_TEXT = st.sampled_from(
    [
        ".nan",
        ".inf",
        "-.inf",
        "1e400",
        "9" * 5000,
        "\x00",
        "\ud800",
        "&a [*a, *a, *a]",
        "!!python/object:os.system ['true']",
        "{",
        "- - - -",
        "x" * 10_000,
        "~",
        "'",
        "? a\n: b",
    ]
)


def renders(error: Exception) -> None:
    body = bytes(response_for(error).body)
    assert json.loads(body)["error"]["code"]


@st.composite
def mutated_catalog(draw: st.DrawFn) -> str:
    """The bundled catalog with a few lines replaced, cut or given hostile values."""
    lines = CATALOG.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        at = draw(st.integers(0, len(lines) - 1))
        action = draw(st.integers(0, 3))
        if action == 0:
            del lines[at]
        elif action == 1:
            head = lines[at].split(":", 1)[0]
            lines[at] = f"{head}: {draw(HOSTILE_TEXT | st.text(max_size=20))}"
        elif action == 2:
            lines.insert(at, draw(st.text(max_size=40)))
        else:
            lines = lines[:at]
    return "\n".join(lines)


@FUZZ
@given(text=mutated_catalog() | st.text(max_size=200) | HOSTILE_TEXT)
def test_catalog_yaml_parses_or_is_an_invalid_catalog(text: str) -> None:
    try:
        parse_catalog(text, "fuzz.yaml")
    except InvalidCatalog as error:
        assert error.problems and error.code == "invalid_catalog"
        renders(error)


@FUZZ
@given(pairs=st.lists(st.text(max_size=30) | HOSTILE_TEXT, max_size=5))
def test_set_pairs_parse_or_are_refused_naming_the_option(pairs: list[str]) -> None:
    try:
        parsed = parse_pairs("--set", pairs)
    except InvalidRequest as error:
        assert error.details["field"] == "--set"
        renders(error)
        return
    assert all(name and name == name.strip() for name in parsed)
    assert len(parsed) <= len(pairs)


CALLBACK = {"event_id": "ev-1", "job_id": "job_1", "outcome": "succeeded"}


@st.composite
def callback_body(draw: st.DrawFn) -> bytes:
    text = json.dumps({**CALLBACK, **draw(st.dictionaries(st.text(max_size=12), st.integers()))})
    cut = draw(st.integers(0, len(text)))
    insert = draw(st.sampled_from(["NaN", '"\\ud800"', '"\\u0000"', "1e400", ",", '"x":1,']))
    mutated = text[:cut] + insert + text[cut:] if draw(st.booleans()) else text
    return mutated.encode("utf-8")


@FUZZ
@given(body=callback_body() | st.binary(max_size=200))
def test_callback_bodies_are_read_or_refused_as_documented(body: bytes) -> None:
    try:
        CallbackCreate.model_validate(parse_body(body))
    except InvalidRequest as error:
        assert error.code == "invalid_request" and error.details["field"]
        renders(error)
    except ValidationError:
        pass  # answered as a RequestValidationError: 422 naming each field
