"""Redis commands per delivery: the difference between two `INFO commandstats` snapshots, divided
by the number of deliveries made in between. Commands a Lua script runs are counted by Redis
under their own names as well as under EVAL/EVALSHA, and both are listed (EVALSHA is the one round
trip); the time is Redis's own (commandstats usec), summed over commands, so a script's inner
commands count twice there (the pipeline's only script in these runs is the worker's small
retry-mover).
usage: cmdstats.py BEFORE AFTER DELIVERIES [IGNORED,COMMANDS]   (e.g. eval: the bench's injector)
Prints "T commands, P per delivery (U us in Redis): cmd p, ..." for the commands above 0.005 per
delivery, largest first."""
import sys


def parse(path):
    calls, usec = {}, {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("cmdstat_"):
                continue
            name, _, fields = line[len("cmdstat_"):].partition(":")
            for field in fields.split(","):
                key, _, value = field.partition("=")
                if key == "calls":
                    calls[name] = int(value)
                elif key == "usec":
                    usec[name] = int(value)
    return calls, usec


def main():
    (before, before_us), (after, after_us) = parse(sys.argv[1]), parse(sys.argv[2])
    n = int(sys.argv[3])
    ignored = set(sys.argv[4].split(",")) if len(sys.argv) > 4 else set()
    diff = {k: after[k] - before.get(k, 0) for k in after
            if after[k] > before.get(k, 0) and k not in ignored}
    usec = sum(after_us.get(k, 0) - before_us.get(k, 0) for k in diff)
    if n <= 0:
        print(f"{sum(diff.values())} commands, no deliveries")
        return
    parts = [f"{k} {v / n:.2f}" for k, v in sorted(diff.items(), key=lambda kv: -kv[1])
             if v / n >= 0.005]
    print(f"{sum(diff.values())} commands, {sum(diff.values()) / n:.2f} per delivery "
          f"({usec / n:.1f} us in Redis): " + ", ".join(parts))


if __name__ == "__main__":
    main()
