"""A stand-in for a measuring child: it asks to die with its parent, writes its pid, then sleeps a minute."""
import os
import sys
import time

from bench.processes import die_with_parent

if __name__ == "__main__":
    die_with_parent()
    with open(sys.argv[1] + ".tmp", "w") as handle:
        handle.write(str(os.getpid()))
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    time.sleep(60)
