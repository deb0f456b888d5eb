"""Questions about a finished run: why is this account here (explain), who else is this (expand)."""
