"""``python -m sklearn_genre.cli``: the same as the ``sklearn-genre`` command."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
