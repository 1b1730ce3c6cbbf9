"""Leakage families: faults applied to a simulated operator's landed files, each with its ground truth.
families.py holds the mechanism (Context, Family, LeakRow, the mixes and their order); each other module one
area's families: usage (switch files and trunks), bill_lines (the billing export), invoices, collection,
discounts (promotions) and cost (vendor invoices)."""
