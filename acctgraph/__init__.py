"""acctgraph: find the operations behind fake accounts.

Load account and exchange tables, link accounts through the attribute values
they share, find operator clusters with Leiden, score them with explainable
signals and write evidence an investigator can cite.
"""

__version__ = "0.1.0"
