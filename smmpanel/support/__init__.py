"""Support tickets: a customer's questions and the owner's answers."""
