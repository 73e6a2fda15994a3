import sys

from mobile_contract.client.cli import main

sys.exit(main())
