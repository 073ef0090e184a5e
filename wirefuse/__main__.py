import sys

from wirefuse.cli import main

sys.exit(main())
