"""Thin wrapper: ``python bench/run_bench.py [options]`` == ``camvideo bench [options]``."""

import sys

from camvideo.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
