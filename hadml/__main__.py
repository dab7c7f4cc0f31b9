import sys

from hadml.cli import main

sys.exit(main())
