"""CPU (llvm) hand schedules, one module per operator of tvmprims.ops."""
