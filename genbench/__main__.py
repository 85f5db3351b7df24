from genbench.cli.main import main

raise SystemExit(main())
