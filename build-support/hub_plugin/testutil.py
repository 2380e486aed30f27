"""Helpers of the plugin's rule tests (`run_rule_with_mocks`): fake digests and process
results, and mocks that record what a rule asked for."""

from __future__ import annotations

import io
from typing import Any, Callable, Generic, TypeVar

from pants.engine.console import Console
from pants.engine.fs import EMPTY_DIGEST, EMPTY_FILE_DIGEST, Digest
from pants.engine.internals.native_engine import ProcessExecutionEnvironment
from pants.engine.platform import Platform
from pants.engine.process import FallibleProcessResult, ProcessResult, ProcessResultMetadata

T = TypeVar("T")


def digest(n: int) -> Digest:
    """A digest that stands for the `n`th distinct tree of a test (never read, only compared)."""
    return Digest(f"{n:064x}", n)


def _metadata() -> ProcessResultMetadata:
    environment = ProcessExecutionEnvironment(
        environment_name=None,
        platform=Platform.create_for_localhost().value,
        docker_image=None,
        remote_execution=False,
        remote_execution_extra_platform_properties=[],
    )
    return ProcessResultMetadata(0, environment, "ran", 0)


def process_result(stdout: bytes = b"", stderr: bytes = b"", output: Digest = EMPTY_DIGEST) -> ProcessResult:
    return ProcessResult(stdout, EMPTY_FILE_DIGEST, stderr, EMPTY_FILE_DIGEST, output, _metadata())


def fallible_result(
    exit_code: int = 0, stdout: bytes = b"", stderr: bytes = b"", output: Digest = EMPTY_DIGEST
) -> FallibleProcessResult:
    return FallibleProcessResult(stdout, EMPTY_FILE_DIGEST, stderr, EMPTY_FILE_DIGEST, exit_code, output, _metadata())


class Capture(Generic[T]):
    """Records each request a mocked `Get` receives: `MockGet(..., mock=capture.returning(x))`."""

    def __init__(self) -> None:
        self.values: list[T] = []

    def returning(self, result: Any) -> Callable[[T], Any]:
        return self.answering(lambda _: result)

    def answering(self, answer: Callable[[T], Any]) -> Callable[[T], Any]:
        def mock(request: T) -> Any:
            self.values.append(request)
            return answer(request)

        return mock

    @property
    def only(self) -> T:
        """The one request made (a test fails if there were none or several)."""
        assert len(self.values) == 1, f"expected one request, got {self.values}"
        return self.values[0]


def never(request: Any) -> Any:
    """The mock of a `Get` a test expects the rule not to make."""
    raise AssertionError(f"unexpected request: {request!r}")


class FakeWorkspace:
    """Stands for the goal rules' `Workspace`: records the digests written."""

    def __init__(self) -> None:
        self.written: list[Digest] = []

    def write_digest(
        self, digest: Digest, *, path_prefix: str | None = None, clear_paths: Any = (), side_effecting: bool = True
    ) -> None:
        assert path_prefix is None, "the goals write at the build root"
        self.written.append(digest)


def string_console() -> Console:
    """A console whose output a test reads back: `console.stdout.getvalue()`."""
    return Console(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(), use_colors=False)
