import sys

from expnet.cli import main

sys.exit(main())
