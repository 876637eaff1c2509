"""Studies run with tvmprims (``tvmprims study NAME``): each writes CSV and PNG files.

* :mod:`~tvmprims.studies.precision`: error of every algorithm at every precision.
* :mod:`~tvmprims.studies.rank`: truncated-SVD error and low-rank speed-up against rank.
"""
