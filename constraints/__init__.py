"""Pin and timing constraints that madvq adds to the board files (data files read by
``madvq build``; installed with the package so that a normal install can build)."""
