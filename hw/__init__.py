"""ttzo gateware (Amaranth): each block beside a pointer to its golden twin in ttzo.golden."""
