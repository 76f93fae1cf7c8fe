"""Domain rules as plain functions, callable from views, CLI and tests alike."""
