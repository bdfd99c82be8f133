"""Shares: a case, or chosen items, opened to a named prosecutor or defence lawyer."""
