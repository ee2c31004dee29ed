"""torch modules written from the equations, drop-in compatible with ``torch.nn``."""
