"""The reference evaluator: three-valued verdicts, amounts, stacking and explanations. Every
other back end is checked against it."""
