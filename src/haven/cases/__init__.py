"""Cases, their states and their encrypted records."""
