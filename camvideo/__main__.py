import sys

from camvideo.cli import main

sys.exit(main())
