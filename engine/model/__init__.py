"""What authors and enterprises write: the policy language, fact declarations, profiles, zones,
units and the YAML reader that keeps line numbers."""
