"""Models of the billing app arrive with its issue; see README 'Architecture'."""
