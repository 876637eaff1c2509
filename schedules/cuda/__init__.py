"""CUDA hand schedules, one module per operator of tvmprims.ops."""
