"""Organisation: province → city → district → outlet/grid, key-account centres, staff."""
