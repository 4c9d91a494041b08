"""Sync enrollment, cycles and the fill queue. Models of the scheduling app arrive with its issue; see README 'Architecture'."""
