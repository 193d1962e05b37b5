"""Photos of documents sent with a requester's message: checked by decoding, stripped of their metadata,
sealed to the case like every record, and opened on the desk by the case's teams only."""
