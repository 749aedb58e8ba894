"""`flwr run` that exits with the run's outcome: 0 if it finished completed, 1 otherwise.

`flwr run` (flwr 1.41, with or without `--stream`) exits 0 once the run is submitted, even
when the ServerApp raises and Flower marks the run `finished:failed`. This script submits the
run, streams its logs (`flwr log --stream`) and then reads its status (`flwr ls --run-id`):

    python run_and_check.py . local-deployment --run-config "accept-failures=false"

Arguments: the app directory, the SuperLink connection's name (in `$FLWR_HOME/config.toml`),
then any options of `flwr run`. Exit code: 0 for `finished:completed`, 1 for any other final
status (`finished:failed`, `finished:stopped`), 2 if `flwr run` could not submit the run.
"""

import json
import subprocess
import sys
import time

FINAL_POLL_SECONDS = 30


def _flwr_json(*args):
    completed = subprocess.run(["flwr", *args, "--format", "json"], capture_output=True,
                               text=True, check=False)
    try:
        return json.loads(completed.stdout)
    except json.JSONDecodeError:
        sys.stderr.write(completed.stdout + completed.stderr)
        return {}


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    app, superlink, *options = argv
    submitted = _flwr_json("run", app, superlink, *options)
    if not submitted.get("success"):
        sys.stderr.write(f"flwr run did not start the run: {submitted}\n")
        return 2
    run_id = submitted["run-id"]
    print(f"Run {run_id} started; streaming its logs.", flush=True)
    subprocess.run(["flwr", "log", str(run_id), superlink, "--stream"], check=False)
    deadline = time.monotonic() + FINAL_POLL_SECONDS
    status = ""
    while time.monotonic() < deadline:
        runs = _flwr_json("ls", superlink, "--run-id", str(run_id)).get("runs", [])
        status = runs[0]["status"] if runs else ""
        if status.startswith("finished"):
            break
        time.sleep(1)
    details = runs[0].get("status-details", "") if runs else ""
    print(f"Run {run_id}: {status or 'unknown status'} {details}".rstrip(), flush=True)
    return 0 if status == "finished:completed" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
