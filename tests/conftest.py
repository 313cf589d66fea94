"""Shared fixtures: the example model trained once per test session, real-format events."""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from types import CodeType
from typing import Any

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
# No test may reach real AWS: moto answers, with fake credentials.
for _key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
    os.environ.setdefault(_key, "testing")

FIXTURES = Path(__file__).parent / "fixtures"

# Test tiers (`make test-unit` runs `-m unit`, `make test` everything). A test is `integration`
# when its node id starts with one of these (servers, builds, npm, child processes in helpers
# or fixtures), when it uses one of the fixtures below, runs against a real server (a
# parameter below), or its own code starts a process or converts with torch/keras; every
# other test is `unit`: in process, no network, no build. Under `-m unit`, a unit test that
# starts a process or opens a network connection fails, naming this rule.
INTEGRATION_PATHS = (
    "tests/serverless/",  # npm ci, osls package, cfn-lint
    "tests/bench/test_suite_smoke.py",  # cold-start processes, gunicorn, the whole suite
    "tests/infra/build/test_build.py",  # build() writes the function and layer zips
    "tests/infra/build/test_flask_build.py",
    "tests/infra/build/test_cli.py",
    "tests/infra/build/test_lockfile.py::test_slipway_lock_reproduces",  # uv and pip, PyPI
    "tests/infra/loadtest/test_loadtest_command.py",  # Locust child processes, HTTPS servers
    "tests/infra/aws/test_cli_moto_server.py",  # moto_server, the slipway and aws CLIs
    "tests/infra/local/test_faults.py",  # the platform's servers and environment processes
    "tests/infra/local/test_predict_platform.py",  # slipway serve under load
    "tests/infra/local/test_release_platform.py",
    "tests/infra/test_servers.py",  # real child servers
    "tests/infra/cloudrun/test_platform.py",  # a loopback fake of the Cloud Run Admin API
    "tests/infra/image/test_push.py::test_registry_",  # docker-registry, skopeo, podman
    "tests/bench/test_targets.py::test_interleaved_cold_starts",  # processes, in bench
    "tests/model_store/test_files.py::test_exclusive_lock_holds_other_processes_off",
    # Train the example and convert it with parity: seconds each (as torch and keras below).
    "tests/model_store/test_convert.py::test_sklearn_pipeline_classifier_parity",
    "tests/model_store/test_convert.py::test_parity_refused_beyond_tolerance",
    "tests/model_store/test_tabular_matrix.py",  # issue 16: ~40 conversions, each served
    "tests/model_store/test_tabular_cli.py",  # issue 16: slipway register on tabular models
    "tests/infra/ci/",  # actionlint, every workflow command run, the release job on moto_server
)
INTEGRATION_FIXTURES = {"served", "moto_server", "gunicorn_url", "http_mode_url", "every_client"}
# moto's AWS (world: IAM, S3, Lambda, CloudWatch; s3) is in process but 1-3 s a test to build.
INTEGRATION_FIXTURES |= {"world", "s3"}
INTEGRATION_FIXTURES |= {"built_image", "image_engine"}  # the container image and podman
# Image classifiers converted by torch and keras (tests/image_models.py): a minute or two.
INTEGRATION_FIXTURES |= {"image_models"}
# Text models fitted, exported by torch and registered (tests/text_models.py): a minute or so.
INTEGRATION_FIXTURES |= {"text_models"}
# tests/contract's real gunicorn; tests/infra/test_alias_contract's AWS side (moto's world).
INTEGRATION_PARAMS = {"flask-gunicorn", "http-mode", "image-http", "aws"}
# Names a test's own code uses (globals, imports, attributes, strings) that mean it starts a
# process or runs a heavy conversion (torch, keras).
INTEGRATION_NAMES = {"subprocess", "Popen", "ProcessPoolExecutor", "multiprocessing"}
INTEGRATION_NAMES |= {"torch", "keras"}
UNIT_TIMEOUT_S = 60  # the default (pyproject) is 300 s
LONG_TIMEOUT_S = 900  # first runs that build the layer or run npm ci
LONG = ("tests/serverless/", "tests/infra/local/", "tests/infra/aws/test_cli_moto_server.py")
# slipway serve, whose first run in a fresh clone builds the host's layer.
LONG += ("tests/adversarial/", "tests/bench/test_soak.py")
LONG += ("tests/browser/",)  # headless Chromium against slipway serve
# The container image, built from nothing on a fresh clone (mmdebstrap, pip, compileall).
LONG += ("tests/infra/image/", "tests/contract/")


def _names(code: CodeType) -> set[str]:
    """Names and string constants of a code object and the functions defined in it."""
    out = set(code.co_names) | {c for c in code.co_consts if isinstance(c, str)}
    for const in code.co_consts:
        if isinstance(const, CodeType):
            out |= _names(const)
    return out


def is_integration(item: pytest.Item) -> bool:
    params = getattr(getattr(item, "callspec", None), "params", {})
    code = getattr(getattr(item, "function", None), "__code__", None)
    return (
        item.nodeid.startswith(INTEGRATION_PATHS)
        or bool(INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ())))
        or any(isinstance(v, str) and v in INTEGRATION_PARAMS for v in params.values())
        or (code is not None and bool(INTEGRATION_NAMES & _names(code)))
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under exactly `-m unit`, whole integration modules and folders are not even imported."""
    if config.getoption("markexpr", "") != "unit":
        return None
    rel = collection_path.relative_to(config.rootpath).as_posix()
    rel += "/" if collection_path.is_dir() else ""
    return any(rel.startswith(p) for p in INTEGRATION_PATHS if "::" not in p) or None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("integration") or item.get_closest_marker("unit"):
            integration = item.get_closest_marker("integration") is not None  # marked by hand
        else:
            integration = is_integration(item)
            item.add_marker(pytest.mark.integration if integration else pytest.mark.unit)
        if item.get_closest_marker("timeout") is None:
            if not integration:
                item.add_marker(pytest.mark.timeout(UNIT_TIMEOUT_S))
            elif item.nodeid.startswith(LONG):
                item.add_marker(pytest.mark.timeout(LONG_TIMEOUT_S))


def _refuse(what: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(
            f"a unit test {what}: mark it integration (tests/conftest.py, INTEGRATION_PATHS)"
        )

    return refuse


@pytest.fixture(autouse=True)
def _unit_stays_in_process(request: pytest.FixtureRequest) -> Iterator[None]:
    """Under `-m unit`, a unit test that starts a process or connects anywhere fails."""
    markexpr = request.config.getoption("markexpr", "") or ""
    if "unit" not in markexpr or request.node.get_closest_marker("unit") is None:
        yield
        return

    def local_only(method: Callable[..., Any]) -> Callable[..., Any]:
        def call(sock: socket.socket, address: Any) -> Any:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                _refuse(f"connected to {address!r}")()
            return method(sock, address)  # AF_UNIX and socketpairs stay allowed

        return call

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(subprocess.Popen, "__init__", _refuse("started a process"))
        mp.setattr(os, "fork", _refuse("forked"))
        for name in ("connect", "connect_ex"):
            mp.setattr(socket.socket, name, local_only(getattr(socket.socket, name)))
        yield


@pytest.fixture(scope="session")
def example_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local store holding digits@1, the example model."""
    from model_store.backends.local import LocalStore
    from model_store.example import build_and_register

    root = tmp_path_factory.mktemp("store")
    build_and_register(LocalStore(root))
    return root


@pytest.fixture(scope="session")
def example_manifest(example_store: Path) -> Any:
    from model_store.backends.local import LocalStore

    return LocalStore(example_store).manifest("digits")


@pytest.fixture(scope="session")
def image_models(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The PyTorch, Keras and Hugging Face-style image classifiers in one local store, with
    their frameworks' scores on every photo variant (tests/image_models.py)."""
    from tests.image_models import build

    return build(tmp_path_factory.mktemp("image-models"))


@pytest.fixture(scope="session")
def text_models(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The TF-IDF and character n-gram pipelines, the BERT- and RoBERTa-style classifiers and
    the sentence-transformers directory in one local store, with their libraries' answers on
    the front-end texts (tests/text_models.py)."""
    from tests.text_models import build

    return build(tmp_path_factory.mktemp("text-models"))


@pytest.fixture(scope="session")
def digits_test_rows() -> Any:
    from model_store.example import train

    _, x_test, _ = train()
    return x_test


def load_event(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "events" / f"{name}.json").read_text())


@pytest.fixture
def make_event() -> Callable[..., dict[str, Any]]:
    """make_event(kind, body=..., method=..., path=..., headers=..., b64=...) from a fixture file."""

    def make(
        kind: str = "http_api_v2",
        *,
        body: str | None = None,
        method: str = "POST",
        path: str = "/predict",
        content_type: str | None = "application/json",
        b64: bool = False,
    ) -> dict[str, Any]:
        event = copy.deepcopy(load_event(kind))
        event["body"] = body
        event["isBase64Encoded"] = b64
        if "httpMethod" in event:
            event["httpMethod"] = method
            event["path"] = event["resource"] = path
            headers = event["headers"]
            ct_key = "Content-Type"
            event["multiValueHeaders"].pop(ct_key, None)
        else:
            event["requestContext"]["http"]["method"] = method
            event["requestContext"]["http"]["path"] = event["rawPath"] = path
            headers = event["headers"]
            ct_key = "content-type"
        headers.pop(ct_key, None)
        if content_type is not None:
            headers[ct_key] = content_type
            if "multiValueHeaders" in event:
                event["multiValueHeaders"][ct_key] = [content_type]
        return event

    return make


@pytest.fixture(scope="session")
def built_image() -> Any:
    """The real image for this machine's arch, `slipway build --image` into build/ (cached
    after the first build on a machine; from nothing on a fresh clone): an ImageResult."""
    from infra.image.base import host_arch
    from infra.image.builder import build_image

    return build_image(host_arch())


@pytest.fixture(scope="session")
def image_engine(built_image: Any) -> tuple[Any, str]:
    """(Podman with the tests' own storage under build/, the built image's id there)."""
    from infra.image.podman import Podman

    engine = Podman(Path(__file__).resolve().parents[1] / "build" / "test-podman")
    return engine, engine.load(built_image.archive)


@pytest.fixture(scope="session")
def readable_store(example_store: Path) -> Path:
    """The example store where a container's uid (65534) can read it: pytest's temporary
    directories are private to root (0700), build/ is not."""
    import shutil

    out = Path(__file__).resolve().parents[1] / "build" / f"test-store-{os.getpid()}"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(example_store, out)
    for path in [out, *out.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return out
