"""End to end: a Flower deployment on 127.0.0.1 with TLS and node authentication.

A SuperLink (`--enable-supernode-auth`) and two SuperNodes whose public keys are registered
(`flwr supernode register`), the certificates and keys made by examples/federated's scripts, a
tiny Flower App built from `flower.client_app` / `flower.server_app`, runs started with
examples/federated/run_and_check.py. One SuperNode is stopped during round 2; the run must
report the failure, finish with the survivor within its timeouts and exit 0; the same app with
`accept-failures=false` must end `finished:failed` and exit 1; a SuperNode with an unregistered
key must be refused.

It starts real processes (about a minute and a half on two loaded cores), so it runs once: with
the JAX backend (`make test`'s JAX pass, or `make test-deploy`), and is skipped otherwise.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("flwr")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "federated"
BIN = Path(sys.executable).parent
TOTAL_BUDGET_S = 180  # the whole module
ROUND_TIMEOUT_S = 40
MIN_NODES_TIMEOUT_S = 3

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("KERAS_BACKEND", "tensorflow") != "jax",
        reason="the deployment test runs once, in the JAX pass (or `make test-deploy`)",
    ),
    pytest.mark.skipif(
        not all(shutil.which(tool) for tool in ("openssl", "ssh-keygen"))
        or not (BIN / "flower-superlink").exists(),
        reason="needs openssl, ssh-keygen and Flower's executables beside the interpreter",
    ),
]

APP_FILES = {
    "pyproject.toml": """
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [project]
        name = "tiny-deployment-app"
        version = "1.0.0"
        dependencies = []

        [tool.hatch.build.targets.wheel]
        packages = ["."]

        [tool.flwr.app]
        publisher = "keras-remediation-tests"

        [tool.flwr.app.components]
        serverapp = "tiny_app.server_app:app"
        clientapp = "tiny_app.client_app:app"

        [tool.flwr.app.config]
        num-server-rounds = 2
        min-nodes = 2
        min-nodes-timeout = %(min_nodes_timeout)s
        round-timeout = %(round_timeout)s
        accept-failures = true
        """,
    "tiny_app/__init__.py": "",
    "tiny_app/task.py": """
        import keras
        import numpy as np

        from keras_remediation import federated


        def model_fn():
            keras.utils.set_random_seed(1)
            inputs = keras.Input((4,))
            outputs = keras.layers.Dense(1, activation="sigmoid")(inputs)
            spec = (keras.KerasTensor((None, 4)), keras.KerasTensor((None, 1)))
            return federated.from_keras_model(
                keras.Model(inputs, outputs), "binary_crossentropy", spec,
                metrics=[keras.metrics.BinaryAccuracy(name="accuracy")],
                optimizer=lambda: keras.optimizers.SGD(0.5),
            )


        def _data(seed, rows=64):
            rng = np.random.default_rng(seed)
            x = rng.normal(size=(rows, 4)).astype("float32")
            y = (x[:, :1] - x[:, 1:2] > 0).astype("float32")
            return x, y


        def data_fn(partition_id, num_partitions):
            return _data(partition_id)


        def central_data():
            return _data(99)
        """,
    "tiny_app/client_app.py": """
        from keras_remediation.federated import flower

        from tiny_app.task import data_fn, model_fn

        app = flower.client_app(model_fn, data_fn, batch_size=16)
        """,
    "tiny_app/server_app.py": """
        from keras_remediation.federated import flower

        from tiny_app.task import central_data, model_fn

        app = flower.server_app(model_fn, central_data_fn=central_data, fraction_evaluate=0.0,
                                batch_size=16)
        """,
}


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class _Deployment:
    """The processes of the deployment, their logs, and their cleanup."""

    def __init__(self, root):
        self.root = root
        self.started = time.monotonic()
        self.env = dict(os.environ, FLWR_HOME=str(root / "flwr-home"), KERAS_BACKEND="jax",
                        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                        PYTHONUNBUFFERED="1",
                        # XLA programs compiled in one ClientApp process serve the next ones
                        JAX_COMPILATION_CACHE_DIR=str(root / "jax-cache"),
                        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
        self.processes = {}

    def remaining(self):
        return max(TOTAL_BUDGET_S - (time.monotonic() - self.started), 1.0)

    def start(self, name, args):
        log = open(self.root / f"{name}.log", "w")
        self.processes[name] = subprocess.Popen(
            [str(BIN / args[0]), *args[1:]], stdout=log, stderr=subprocess.STDOUT, env=self.env,
            cwd=self.root, start_new_session=True,  # its own group: children die with it
        )
        return self.processes[name]

    def log(self, name):
        return (self.root / f"{name}.log").read_text(errors="replace")

    def stop(self, name, sig=signal.SIGTERM):
        process = self.processes[name]
        if process.poll() is None:
            os.killpg(process.pid, sig)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)

    def close(self):
        for name in reversed(list(self.processes)):
            try:
                self.stop(name)
            except ProcessLookupError:
                pass

    def run(self, args, timeout=60):
        return subprocess.run(args, env=self.env, cwd=self.root, capture_output=True,
                              text=True, timeout=min(timeout, self.remaining()), check=False)

    def wait_for(self, name, text, timeout):
        deadline = time.monotonic() + min(timeout, self.remaining())
        while time.monotonic() < deadline:
            if text in self.log(name):
                return
            if self.processes[name].poll() is not None:
                break
            time.sleep(0.3)
        raise AssertionError(f"{name} did not log {text!r}:\n{self.log(name)[-3000:]}")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    root = tmp_path_factory.mktemp("deployment")
    app = root / "app"
    values = {"min_nodes_timeout": MIN_NODES_TIMEOUT_S, "round_timeout": ROUND_TIMEOUT_S}
    for relative, text in APP_FILES.items():
        path = app / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        text = textwrap.dedent(text).lstrip()
        path.write_text(text % values if relative == "pyproject.toml" else text)
    subprocess.run(["bash", str(EXAMPLE / "generate_certificates.sh"), str(root / "certificates")],
                   check=True, capture_output=True)
    subprocess.run(["bash", str(EXAMPLE / "generate_node_keys.sh"), str(root / "keys"), "3"],
                   check=True, capture_output=True)
    link_port, *node_ports = _free_ports(4)
    d = _Deployment(root)
    d.link_port = link_port
    d.home = root / "flwr-home"
    d.home.mkdir()
    (d.home / "config.toml").write_text(textwrap.dedent(f"""
        [superlink]
        default = "deployment"

        [superlink.deployment]
        address = "127.0.0.1:{link_port}"
        root-certificates = "{root / 'certificates' / 'ca.crt'}"
        """))
    certs = root / "certificates"
    try:
        d.start("superlink", [
            "flower-superlink", "--ssl-ca-certfile", str(certs / "ca.crt"),
            "--ssl-certfile", str(certs / "server.pem"), "--ssl-keyfile", str(certs / "server.key"),
            "--host", "127.0.0.1", "--port", str(link_port), "--enable-supernode-auth",
            "--disable-runtime-dependency-installation",
        ])
        registered = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the SuperLink answers once it is up
            registered = d.run(["flwr", "supernode", "register",
                                str(root / "keys" / "supernode-1.pub"), "deployment"])
            if registered.returncode == 0:
                break
            time.sleep(1)
        assert registered.returncode == 0, registered.stdout + registered.stderr
        second = d.run(["flwr", "supernode", "register", str(root / "keys" / "supernode-2.pub"),
                        "deployment"])
        assert second.returncode == 0, second.stdout + second.stderr
        for i, port in enumerate(node_ports[:2], start=1):
            d.start(f"supernode-{i}", [
                "flower-supernode", "--root-certificates", str(certs / "ca.crt"),
                "--superlink", f"127.0.0.1:{link_port}", "--port", str(port),
                "--auth-supernode-private-key", str(root / "keys" / f"supernode-{i}"),
                "--node-config", f"partition-id={i - 1} num-partitions=2",
            ])
        d.spare_port = node_ports[2]
        yield d
    finally:
        d.close()


def _nodes(deployment):
    listed = deployment.run(["flwr", "supernode", "list", "deployment", "--format", "json"])
    return json.loads(listed.stdout)["nodes"]


def test_a_supernode_with_an_unregistered_key_is_refused(deployment):
    intruder = deployment.start("intruder", [
        "flower-supernode", "--root-certificates",
        str(deployment.root / "certificates" / "ca.crt"),
        "--superlink", f"127.0.0.1:{deployment.link_port}", "--port", str(deployment.spare_port),
        "--auth-supernode-private-key", str(deployment.root / "keys" / "supernode-3"),
        "--node-config", "partition-id=0 num-partitions=2", "--max-retries", "0",
    ])
    try:
        code = intruder.wait(min(60, deployment.remaining()))
    except subprocess.TimeoutExpired:
        code = None
    log = deployment.log("intruder")
    assert code not in (None, 0), f"an unregistered SuperNode was not refused:\n{log[-3000:]}"
    assert "Failed to activate SuperNode" in log, log[-3000:]
    nodes = _nodes(deployment)  # the two registered SuperNodes, nothing of the intruder
    assert len(nodes) == 2, nodes
    assert {node["status"] for node in nodes} <= {"registered", "online"}, nodes


def _run_app(deployment, *options):
    result = deployment.run(
        [sys.executable, str(EXAMPLE / "run_and_check.py"), str(deployment.root / "app"),
         "deployment", *options],
        timeout=150,
    )
    (deployment.root / "run-strict.log").write_text(result.stdout + result.stderr)
    return result


def test_a_stopped_supernode_is_reported_the_run_finishes_and_exits_0(deployment):
    started = time.monotonic()
    log_path = deployment.root / "run.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, str(EXAMPLE / "run_and_check.py"), str(deployment.root / "app"),
             "deployment"],
            env=deployment.env, cwd=deployment.root, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = started + min(2 * ROUND_TIMEOUT_S + 60, deployment.remaining())
        try:
            while process.poll() is None and time.monotonic() < deadline:
                # Round 2 has reached SuperNode 2 (its ClientApp process starts now, and takes
                # seconds to import Keras and to train): stop it, as Ctrl+C would.
                if deployment.log("supernode-2").count("Receiving: train message") >= 2:
                    deployment.stop("supernode-2")
                time.sleep(0.2)
            code = process.wait(max(deadline - time.monotonic(), 1))
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    text = log_path.read_text()
    seconds = time.monotonic() - started
    assert deployment.processes["supernode-2"].poll() is not None, text[-4000:]
    assert "[round 1/2]" in text and "clients 2 ok, 0 failed" in text, text[-4000:]
    assert "[round 2/2]" in text and "clients 1 ok, 1 failed" in text, text[-4000:]
    assert "Node Unavailable" in text, text[-4000:]
    assert code == 0, text[-4000:]
    assert "finished:completed" in text
    assert seconds < 2 * ROUND_TIMEOUT_S + 45, seconds


def test_with_accept_failures_false_the_run_fails_and_exits_1(deployment):
    deployment.stop("supernode-2")  # one of the two min-nodes is gone
    result = _run_app(deployment, "--run-config", "accept-failures=false")
    text = result.stdout + result.stderr
    assert result.returncode == 1, text[-4000:]
    assert "finished:failed" in text, text[-4000:]
    assert "accept_failures is False" in text, text[-4000:]
