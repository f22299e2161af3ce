"""Helpers for the fault tests (tests/integration/test_provider_faults.py, test_pipeline_faults.py,
test_otp.py's log check): a Repoint daemon with SMS and APNs simulators, bounded waits on a
process's exit, and the log patterns that catch one-time password codes.

The harness's LOG_LEAKS (tests/lib/harness.py) catches secrets, keys, full phone numbers and
device tokens in every daemon log. An OTP code alone is a short run of digits, which ordinary
log lines also carry (ports, counts, ids), so no pattern finds a bare code; OTP_LOG_LEAKS finds
the shapes a leak takes (a rendered OTP message in any of SendOTPMessage's languages, an Otp
member or form field with its digits), and a test that knows the codes it saw (from the
simulator) looks for each one with otp_code_leaks()."""
import os
import re
import signal
import subprocess
import time
import urllib.parse

import harness

CA_FILE = os.path.join(harness.SOURCE_DIR, "tests", "sim", "testca", "ca.pem")


def sanitized_build():
    """True when REPOINT_BIN was built with AddressSanitizer (the CMake sanitizer build): the
    fault tests scale their counts down there, as everything runs several times slower."""
    if os.environ.get("RP_SANITIZED"):
        return os.environ["RP_SANITIZED"] not in ("", "0")
    try:
        with open(harness.REPOINT_BIN, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def stop_within(proc, sig=signal.SIGTERM, timeout=30.0):
    """Sends sig and waits for the exit; returns (return code, seconds taken). Kills the
    process and fails when it outlives timeout."""
    start = time.monotonic()
    proc.send_signal(sig)
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"the process did not exit within {timeout:.0f} s of {sig!r}")
    return rc, time.monotonic() - start


# The shapes of an OTP code in a log line; the harness checks every daemon log for them.
OTP_LOG_LEAKS = harness.OTP_LOG_LEAKS


def otp_leaks(text):
    """Lines of a log that show an OTP code in one of OTP_LOG_LEAKS's shapes (the harness's
    log_leaks() checks these among the rest)."""
    return harness.log_leaks(text, OTP_LOG_LEAKS)


# Ids that carry digit runs of their own: UUIDs (request and message ids) and long hex digests
# (record keys). A 6-digit code turns up inside one of them by chance in a few percent of runs.
_ID_TOKENS = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
                        r"|(?<![0-9A-Za-z])[0-9a-fA-F]{16,}(?![0-9A-Za-z])")


def otp_code_leaks(text, codes):
    """Lines of a log (or any text) that show one of the one-time password codes given, as a
    whole number: '123456' inside a longer digit run (a timestamp, a stream id) or inside a UUID
    or hex digest is not that code. Percent- and plus-encoding is undone first, so a code in a
    logged form body ('is%20123456') is still found."""
    found = []
    if not codes:
        return found
    pattern = re.compile(r"(?<![0-9])(" + "|".join(re.escape(c) for c in codes) + r")(?![0-9])")
    for n, line in enumerate(text.splitlines()):
        m = pattern.search(_ID_TOKENS.sub("<id>", urllib.parse.unquote_plus(line)))
        if m:
            found.append(f"line {n + 1}: OTP code {m.group(1)}: {line[:200]}")
    return found


def otp_codes_in_bodies(bodies):
    """The codes a message body carries: 4 to 8 digit runs (OTP lengths Pinpoint allows)."""
    codes = set()
    for body in bodies:
        codes.update(re.findall(r"(?<![0-9])([0-9]{4,8})(?![0-9])", body or ""))
    return codes
