"""``python -m hotmesh_temporal ...``: see :mod:`hotmesh_temporal.cli`."""

import sys

from hotmesh_temporal.cli import main

if __name__ == "__main__":
    sys.exit(main())
