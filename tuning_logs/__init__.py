"""The tuning logs shipped with tvmprims, one directory per target key (installed as the
package ``tvmprims.tuning_logs``, so wheels and sdists carry them; see
``tvmprims.tuning_records``)."""
