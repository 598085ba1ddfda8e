"""Child process for one task and one contender (plus the numpy baseline): a crash or a hang here costs
only this contender's result. One call each, checked and timed (single shot). Prints one JSON line."""

from __future__ import annotations

import dataclasses
import json
import sys

from . import threads


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    from .peers import BASELINE
    from .runner import Runner, load_peers
    from .scenarios import Config, Scenario, Task

    task = Task(*spec["task"])
    cfg = dataclasses.replace(
        Config.for_full(), rounds=spec["rounds"], budget_s=spec["budget_s"], target_s=spec["target_s"]
    )
    peers, info = load_peers([BASELINE, spec["contender"]])
    threads.pin_in_process(threads.pinned_threads())
    if spec["contender"] not in peers:
        print(json.dumps({spec["contender"]: info[spec["contender"]]}))
        return 0
    runner = Runner(cfg, peers, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    results = runner.run_here(Scenario(id="isolated", group="", title="", task=task), single_shot=True)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
