"""Checks of a rule set that do not need a profile: lint (static findings) and the worked
cases written beside each document."""
