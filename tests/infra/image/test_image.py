"""The container image: what it holds, that it rebuilds to the same digest, and that it runs
as Lambda runs images (under `slipway serve --image`) and as Cloud Run stops instances."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from infra import servers
from infra.image import oci
from infra.image.builder import ENTRYPOINT_MODULE, IMAGE_LIMIT, TASK_ROOT, build_image

pytestmark = pytest.mark.integration
ELF_MACHINE = {"x86_64": 62, "arm64": 183}  # e_machine: EM_X86_64, EM_AARCH64


def _blobs(archive: Path) -> tuple[dict[str, Any], dict[str, Any], tarfile.TarFile]:
    tar = tarfile.open(archive)  # noqa: SIM115 (the caller closes it)
    index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
    digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.load(tar.extractfile(f"blobs/sha256/{digest}"))  # type: ignore[arg-type]
    config_digest = manifest["config"]["digest"].split(":")[1]
    config = json.load(tar.extractfile(f"blobs/sha256/{config_digest}"))  # type: ignore[arg-type]
    return manifest, config, tar


def _layers(archive: Path) -> dict[str, list[tuple[tarfile.TarInfo, bytes | None]]]:
    """Layer name (the config's history) -> its members, with the head of each regular file."""
    manifest, config, tar = _blobs(archive)
    out: dict[str, list[tuple[tarfile.TarInfo, bytes | None]]] = {}
    with tar:
        for entry, history in zip(manifest["layers"], config["history"], strict=True):
            name = history["comment"].removeprefix("slipway: ")
            blob = tar.extractfile(f"blobs/sha256/{entry['digest'].split(':')[1]}")
            members = []
            with tarfile.open(fileobj=blob, mode="r|gz") as layer:
                for info in layer:
                    head = layer.extractfile(info).read(20) if info.isreg() else None  # type: ignore[union-attr]
                    members.append((info, head))
            out[name] = members
    return out


def test_the_image_is_lambdas_shape(built_image: Any) -> None:
    manifest, config, tar = _blobs(built_image.archive)
    tar.close()
    assert config["os"] == "linux" and config["architecture"] in ("amd64", "arm64")
    cfg = config["config"]
    assert cfg["Entrypoint"][-2:] == ["-m", ENTRYPOINT_MODULE]
    assert cfg["Cmd"] == ["functions.predict.handler.handler"]  # what ImageConfig.Command sets
    assert cfg["User"] == "65534:65534" and cfg["WorkingDir"] == TASK_ROOT
    env = dict(item.split("=", 1) for item in cfg["Env"])
    assert env["LAMBDA_TASK_ROOT"] == TASK_ROOT and env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert [h["comment"] for h in config["history"]][:3] == [
        "slipway: base",
        "slipway: dependencies",
        "slipway: function",
    ]
    assert all(layer["mediaType"] == oci.LAYER_MEDIA for layer in manifest["layers"])
    report = built_image.report
    assert report["digest"] == built_image.digest == oci.manifest_digest(built_image.archive)
    assert 0 < report["unpacked_bytes"] < IMAGE_LIMIT


def test_every_file_is_readable_by_any_uid_and_the_code_is_compiled(built_image: Any) -> None:
    layers = _layers(built_image.archive)
    sources, compiled = set(), set()
    for name, members in layers.items():
        for info, head in members:
            assert info.uid == 0 and info.gid == 0, (name, info.name)
            assert info.mtime <= max(0, built_image.report.get("epoch", 0)), info.name
            if info.isreg():
                assert info.mode & 0o444 == 0o444, (name, info.name, oct(info.mode))
            if info.isdir():
                assert info.mode & 0o555 == 0o555, (name, info.name)
            if name == "function" and info.name.endswith(".py"):
                sources.add(info.name)
            if name == "function" and info.name.endswith(".pyc"):
                assert head is not None
                # PEP 552 flags: 0b01 = hash-based, not checked against the source (unchecked).
                assert int.from_bytes(head[4:8], "little") == 0b01, info.name
                compiled.add(info.name)
    assert f"{TASK_ROOT.strip('/')}/functions/predict/entrypoint.py" in sources
    for src in sources:
        folder, _, file = src.rpartition("/")
        stem = file.removesuffix(".py")
        assert any(c.startswith(f"{folder}/__pycache__/{stem}.cpython-313") for c in compiled), src
    # The stdlib is compiled the same way (no writes on a read-only root filesystem).
    base_pycs = [
        i.name
        for i, _ in layers["base"]
        if i.name.endswith("/json/__pycache__/decoder.cpython-313.pyc")
    ]
    assert base_pycs


def test_an_uncached_rebuild_gives_the_same_digest(built_image: Any, tmp_path: Path) -> None:
    """From nothing: a new mmdebstrap base, a new pip install, new bytecode, same bytes."""
    again = build_image(built_image.report["target"]["arch"], tmp_path / "build", use_cache=False)
    assert again.digest == built_image.digest
    assert [layer["digest"] for layer in again.report["layers"]] == [
        layer["digest"] for layer in built_image.report["layers"]
    ]


def test_arm64_is_built_without_emulation_and_holds_only_aarch64_code(tmp_path: Path) -> None:
    from infra.image.base import host_arch

    if host_arch() == "arm64":
        pytest.skip("this machine is arm64: the x86_64 image is the foreign one")
    result = build_image("arm64")
    _, config, tar = _blobs(result.archive)
    tar.close()
    assert (config["architecture"], config.get("variant")) == ("arm64", "v8")
    elves: Counter[int] = Counter()
    for name, members in _layers(result.archive).items():
        for info, head in members:
            if head and head[:4] == b"\x7fELF":
                machine = int.from_bytes(head[18:20], "little")
                assert machine == ELF_MACHINE["arm64"], (name, info.name, machine)
                elves[machine] += 1
    assert elves[ELF_MACHINE["arm64"]] > 50  # python, libc, onnxruntime, numpy, granian, …


def _report_lines(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if line.startswith("REPORT")]


def test_lambda_mode_under_slipway_serve_image(
    built_image: Any, readable_store: Path, tmp_path: Path, digits_test_rows: Any
) -> None:
    """Environments are containers of the image, on the same Runtime API, over HTTPS."""
    from infra.image.podman import local_engine

    state = tmp_path / "state"
    port = servers.free_port()
    cmd = [sys.executable, "-m", "infra", "serve", "--image", str(built_image.archive)]
    cmd += ["--state", str(state), "--port", str(port), "--model", "digits@1"]
    env = {**os.environ, "SLIPWAY_STORE": str(readable_store)}
    url = f"https://127.0.0.1:{port}"
    rows = digits_test_rows[:64].astype(np.float32)
    session = ort.InferenceSession(str(readable_store / "digits" / "1" / "model.onnx"))
    expected = session.run(None, {session.get_inputs()[0].name: rows})
    cafile = state / "tls" / "cert.pem"
    with servers.running(cmd, log=tmp_path / "serve.log", env=env, port=port, timeout=240):
        with httpx.Client(base_url=url, verify=str(cafile), timeout=60) as http:
            answer = http.post("/predict", json={"inputs": rows.tolist()})
            assert answer.status_code == 200, answer.text
            assert answer.headers["x-model-version"] == "1"
            got = answer.json()["outputs"]
            assert got["label"] == expected[0].tolist()
            np.testing.assert_allclose(got["probabilities"], expected[1], rtol=1e-6, atol=1e-7)
            bad = http.post("/predict", json={"inputs": [[1.0]]})
            assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_input"
        reports = _report_lines(state / "logs" / "functions.log")
        assert reports and "Init Duration" in reports[0]
        assert all(int(r.split("Max Memory Used: ")[1].split()[0]) > 0 for r in reports)
    status = json.loads((state / "state.json").read_text())
    assert any(v.get("image") for v in status["versions"].values())
    engine = local_engine(state)
    left = subprocess.run(
        [*engine.base(), "ps", "--all", "--quiet"], capture_output=True, text=True,
        env=engine.environ(), check=True,
    ).stdout.split()  # fmt: skip
    assert left == [], "slipway serve left containers running"


def test_sigterm_mid_load_finishes_what_was_accepted(
    image_engine: tuple[Any, str], readable_store: Path, example_manifest: Any
) -> None:
    """Cloud Run's stop: it routes no new requests to the instance, sends SIGTERM, and
    SIGKILLs 10 s later. Every request in flight then, a slow upload among them, is answered.

    (A connection a client opens after SIGTERM may be refused or reset: the listener is
    closing. Cloud Run sends none; an earlier version of this test did, and saw one reset.)
    """
    from infra.image.run import spec, started

    engine, image = image_engine
    port = servers.free_port()
    store = str(readable_store)
    run = spec(image, port, env={"SLIPWAY_STORE": store}, mounts=((store, store),))
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    routing = threading.Event()  # cleared: Cloud Run routes nothing more here
    routing.set()
    body = json.dumps({"inputs": [example_manifest.example["inputs"][0]] * 256}).encode()
    headers = {"content-type": "application/json"}

    def record(kind: str) -> None:
        with lock:
            outcomes[kind] += 1

    def client(url: str) -> None:
        with httpx.Client(timeout=15) as http:  # keep-alive, as Cloud Run's front end
            while routing.is_set():
                try:
                    r = http.post(f"{url}/predict", content=body, headers=headers)
                    record("200" if r.status_code == 200 else f"status {r.status_code}")
                except httpx.HTTPError as exc:
                    record(f"lost: {type(exc).__name__}")

    def slow_upload() -> Iterator[bytes]:
        for i in range(0, len(body), len(body) // 10):  # about 1.5 s of upload
            time.sleep(0.15)
            yield body[i : i + len(body) // 10]

    slow: dict[str, Any] = {}

    def slow_client(url: str) -> None:
        try:
            r = httpx.post(f"{url}/predict", content=slow_upload(), headers=headers, timeout=15)
            slow["status"] = r.status_code
        except httpx.HTTPError as exc:
            slow["status"] = f"lost: {type(exc).__name__}"

    with started(engine, run, port) as instance:
        threads = [threading.Thread(target=client, args=(instance.url,)) for _ in range(8)]
        for t in threads:
            t.start()
        time.sleep(2.0)
        uploader = threading.Thread(target=slow_client, args=(instance.url,))
        uploader.start()
        time.sleep(0.3)  # the upload is in flight
        routing.clear()
        started_at = time.monotonic()
        engine.stop(run.name, 10)  # podman stop: SIGTERM, then SIGKILL after 10 s
        stopped_in = time.monotonic() - started_at
        for t in [*threads, uploader]:
            t.join(timeout=40)
    print(f"outcomes {dict(outcomes)}; slow upload {slow}; stopped in {stopped_in:.2f} s")
    assert outcomes["200"] > 20, outcomes
    assert set(outcomes) == {"200"}, outcomes
    assert slow == {"status": 200}, "the request in flight at SIGTERM was not answered"
    assert 1.0 < stopped_in < 10, f"stopped in {stopped_in:.1f} s (the upload took ~1.5 s)"


def test_the_arm64_image_runs_under_qemu() -> None:
    """A smoke run of the foreign image where qemu is registered (make image-tools does it).

    What runs: the interpreter and its compiled stdlib, the native extensions numpy (libstdc++,
    its OpenBLAS), orjson, awslambdaric and granian, and the function's modules. Not
    onnxruntime: under Debian 12's qemu-user (7.2) its import does not finish in 120 s and the
    HTTP server's worker dies with SIGSEGV while loading it, so no prediction is emulated.
    """
    from infra.image.base import emulated, host_arch
    from infra.image.podman import Podman, RunSpec

    if host_arch() == "arm64":
        pytest.skip("this machine is arm64: the arm64 image runs natively in the other tests")
    if not emulated("arm64"):
        pytest.skip("binfmt_misc has no qemu-aarch64 here (it cannot be mounted or registered)")
    result = build_image("arm64")
    engine = Podman(Path(__file__).resolve().parents[3] / "build" / "test-podman")
    image = engine.load(result.archive)
    code = (
        "import platform, numpy, orjson, granian._granian, awslambdaric.lambda_runtime_client; "
        "import functions.predict.dispatch, functions.predict.entrypoint; "
        "print(platform.machine(), float(numpy.arange(4.0).sum()))"
    )
    run = RunSpec(image=image, name=f"slipway-qemu-{os.getpid()}")
    cmd = engine.run_command(run)
    at = cmd.index(image)
    cmd = [*cmd[:at], "--entrypoint", "/usr/bin/python3.13", image, "-c", code]
    try:
        out = subprocess.run(
            cmd, env=engine.environ(), capture_output=True, text=True, timeout=180, check=True
        ).stdout.split()
    finally:
        engine.remove(run.name)
    assert out == ["aarch64", "6.0"]


def test_another_image_can_be_the_base(
    built_image: Any, image_engine: tuple[Any, str], tmp_path: Path
) -> None:
    """--base with an OCI archive (as with a registry reference, after skopeo fetches it):
    its layers are kept as they are, its Python runs the function."""
    result = build_image(
        built_image.report["target"]["arch"],
        tmp_path / "build",
        base_image=str(built_image.archive),
    )
    ours = [layer["digest"] for layer in built_image.report["layers"]]
    theirs = [layer["digest"] for layer in result.report["layers"]]
    assert theirs[: len(ours)] == ours  # the base's layers, byte for byte
    assert [layer["name"] for layer in result.report["layers"]][len(ours) :] == [
        "dependencies",
        "function",
    ]
    assert result.report["base"] == {"source": str(built_image.archive), "layers": len(ours)}
    engine, _ = image_engine
    image = engine.load(result.archive)
    from infra.image.podman import RunSpec

    run = RunSpec(image=image, name=f"slipway-base-{os.getpid()}")
    cmd = engine.run_command(run)
    at = cmd.index(image)
    code = "import functions.predict.entrypoint, onnxruntime, sys; print(sys.executable)"
    cmd = [*cmd[:at], "--entrypoint", "/usr/bin/python3.13", image, "-c", code]
    try:
        out = subprocess.run(
            cmd, env=engine.environ(), capture_output=True, text=True, timeout=120, check=True
        )
    finally:
        engine.remove(run.name)
    assert out.stdout.strip() == "/usr/bin/python3.13"
    _, config, tar = _blobs(result.archive)
    tar.close()
    assert config["config"]["Entrypoint"][0] == "/usr/bin/python3.13"


def test_a_base_with_uncompressed_layers_is_refused(tmp_path: Path) -> None:
    from infra.build.exceptions import ImageBuildError
    from tests.infra.image.conftest import make_oci_archive

    archive = tmp_path / "tiny.oci.tar"
    make_oci_archive(archive)
    with pytest.raises(ImageBuildError, match="layer 0 is application/vnd.oci.image.layer.v1.tar"):
        build_image("x86_64", tmp_path / "build", base_image=str(archive))
