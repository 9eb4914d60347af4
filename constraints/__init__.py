"""Board files: installed as the package data ``ttzo.spec.board_files`` (see README.md)."""
