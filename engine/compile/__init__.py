"""From source to plan: load a directory of documents in named stages, check every name, unit
and type against the fact catalogue and what a profile can hold, refuse the whole set with
file, line and field when anything is wrong, and make the plan (`plan.py`) every back end
reads."""
