"""The requester's side: request types, questionnaires, receipts and follow-ups."""
