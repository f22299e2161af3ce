"""What the benchmarks read of a process from /proc: its peak RSS and its CPU time."""
import os


def peak_rss_mb(pid):
    """VmHWM: the most resident memory the process has had, in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid, children=False):
    """User + system CPU seconds of pid; with children, also those of the children it waited
    for (Redis's AOF-rewrite forks)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15 if children else 13]) / os.sysconf("SC_CLK_TCK")
