"""Sync enrollment, cycles and the fill queue.

Models arrive with the sync engine issue; see README "Architecture".
"""
