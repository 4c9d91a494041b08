"""Models of the messaging app arrive with its issue; see README 'Architecture'."""
