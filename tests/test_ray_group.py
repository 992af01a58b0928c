"""``make test``'s scheduler (tests/conftest.py): a test that starts a Ray instance runs
in the Ray group, never beside another Ray test on the other pytest-xdist worker."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

TESTS = Path(__file__).resolve().parent
STARTS_RAY = ('"--ray", "local"', 'RaySession("local"')
PARSES_ONLY = {"tests/cli/test_batch_modules.py::test_check_sets_the_defaults"}  # the options checked, no Ray


def _conftest():
    spec = importlib.util.spec_from_file_location("tests_root_conftest", TESTS / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tests_starting_ray() -> list[str]:
    """Node ids (without parameters) of the test functions whose source starts a Ray instance."""
    found = []
    for path in sorted(TESTS.rglob("test_*.py")):
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                if any(text in ast.get_source_segment(source, node) for text in STARTS_RAY):
                    found.append(f"{path.relative_to(TESTS.parent).as_posix()}::{node.name}")
    return found


def test_every_test_that_starts_ray_is_in_the_ray_group():
    conftest = _conftest()
    found = _tests_starting_ray()
    assert len(found) > 3  # the reader finds them: the Ray files' and the three elsewhere
    outside = [nodeid for nodeid in found if conftest.scope_of(nodeid) != conftest.RAY_GROUP and nodeid not in PARSES_ONLY]
    assert not outside, outside


def test_other_tests_go_by_file_and_parameters_keep_the_group():
    conftest = _conftest()
    assert conftest.scope_of("tests/batch/test_segments.py::test_the_option_is_in_the_help_and_checked") == \
        "tests/batch/test_segments.py"
    assert conftest.scope_of("tests/batch/test_segments.py::test_on_ray_a_long_file_runs_in_segments_on_two_actors") \
        == "ray"
    assert conftest.scope_of("tests/batch/test_exported_batch.py::"
                             "test_a_ray_run_of_an_exported_model_equals_its_checkpoint[x]") == "ray"
