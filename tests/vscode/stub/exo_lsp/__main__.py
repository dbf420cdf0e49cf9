import sys

from .stub import main

sys.exit(main(sys.argv[1:]))
