"""``python main.py``: start the camvideo desktop app (same as ``camvideo gui``)."""

import sys

from camvideo.cli import main

if __name__ == "__main__":
    sys.exit(main(["gui", *sys.argv[1:]]))
