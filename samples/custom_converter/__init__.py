"""Custom converter: a type JSON cannot carry, sent with an encoding of its own."""
