"""How long cases are kept, shredding the expired ones, and the anonymous counts that outlive them."""
