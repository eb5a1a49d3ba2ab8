import sys
from pathlib import Path

from .documents import write

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "write":
        sys.exit("usage: python -m pantau_shared.contract write DIR")
    write(Path(sys.argv[2]))
