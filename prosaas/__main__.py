from prosaas.cli import main

raise SystemExit(main())
