"""A search killed (SIGKILL) mid-trial and rerun, three times: the trials kept and redone → results/kill_resume.json

Run: ``python -m benchmarks.studies.kill_resume [kills]``; searches a copy of the Boston track (max_epochs 27)
under a temporary directory and writes ``benchmarks/results/kill_resume.json``.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from automl.track import load_track
from benchmarks import RESULTS, ROOT


def trial_states(tuner_dir: Path) -> dict[str, str]:
    states = {}
    for path in tuner_dir.glob("trial_*/trial.json"):
        try:
            states[path.parent.name] = json.loads(path.read_text())["status"]
        except (OSError, ValueError, KeyError):
            pass  # being written right now
    return states


def ongoing(tuner_dir: Path) -> list[str]:
    try:
        return list(json.loads((tuner_dir / "oracle.json").read_text()).get("ongoing_trials", {}).values())
    except (OSError, ValueError):
        return []


def main(kills: int = 3) -> dict:
    boston = load_track("boston")
    work = Path(tempfile.mkdtemp(prefix="kill_resume_"))
    text = boston.source.read_text().replace('name = "boston"', 'name = "boston_kill"')
    text = text.replace("max_epochs = 60", "max_epochs = 27").replace('path = "boston.csv.gz"',
                                                                      f'path = "{boston.data_path()}"')
    (work / "boston_kill.toml").write_text(text)
    command = [sys.executable, "-m", "automl", "search", "--track", str(work / "boston_kill.toml"),
               "--results-dir", str(work / "results")]
    tuner_dir = work / "results" / "boston_kill" / "tuner"
    events = []
    for kill in range(kills):
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wanted = 5 * (kill + 1)  # let a few more trials finish each time
        while process.poll() is None:
            states = trial_states(tuner_dir)
            running = ongoing(tuner_dir)
            if sum(s == "COMPLETED" for s in states.values()) >= wanted and running:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                events.append({"completed_before_kill": sum(s == "COMPLETED" for s in states.values()),
                               "killed_in_trial": running[0]})
                break
            time.sleep(0.05)
    before = trial_states(tuner_dir)
    started = time.monotonic()
    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    after = trial_states(tuner_dir)
    killed = [e["killed_in_trial"] for e in events]
    report = (json.loads((work / "results" / "boston_kill" / "test_metrics.json").read_text())
              if rerun.returncode == 0 else {})
    result = {
        "measured": time.strftime("%Y-%m-%d %H:%M"),
        "kills": events,
        "trials_on_disk_before_rerun": len(before),
        "completed_before_rerun": sum(s == "COMPLETED" for s in before.values()),
        "trials_after_rerun": len(after),
        "completed_after_rerun": sum(s == "COMPLETED" for s in after.values()),
        "killed_trials_completed_after_rerun": sum(after.get(f"trial_{t}") == "COMPLETED" for t in killed),
        "finished_trials_lost": sum(1 for t, s in before.items() if s == "COMPLETED" and after.get(t) != "COMPLETED"),
        "rerun_exit_status": rerun.returncode,
        "rerun_seconds": round(time.monotonic() - started, 1),
        "chosen_test_mae": report.get("mae"),
    }
    out = RESULTS / "kill_resume.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3), indent=2))
