"""The hash-chained audit log: who did what to which case, never what anyone wrote."""
