"""From source to compiled policies: load a directory of documents, check every name, unit and
type against the fact catalogue, and refuse the whole set with file, line and field when
anything is wrong."""
