"""Where things live under the data root, and how they are written, published, locked and read back."""
